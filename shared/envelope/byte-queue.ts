/**
 * A FIFO of byte chunks for the streaming transforms: append chunks as they come, take
 * exactly n bytes without copying when they lie in one chunk.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes currently queued. */
  public length = 0;

  /** Appends a chunk (kept by reference). */
  public push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Copies the first `n` bytes (n <= length) without consuming them. */
  public peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let skip = this.head;
    for (const c of this.chunks) {
      if (filled === n) break;
      filled += c.copy(out, filled, skip, Math.min(c.length, skip + n - filled));
      skip = 0;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  public take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      const available = first.length - this.head;
      if (available > left) {
        this.head += left;
        left = 0;
      } else {
        left -= available;
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.length -= n;
    return out;
  }

  /** Removes and returns everything queued. */
  public takeAll(): Buffer {
    return this.take(this.length);
  }

  /** Drops everything queued (the chunks belong to the writer: they are not zeroed here). */
  public clear(): void {
    this.chunks = [];
    this.head = 0;
    this.length = 0;
  }
}
