/** Backup key escrow: archive version keys under a separate key, run restore drills, restore. */
export { EscrowService } from './escrow-service';
export type { EscrowServiceOptions, ArchiveResult, EscrowCheck, EscrowCheckKind, EscrowCheckReason, EscrowDrillReport, RewrappedFromEscrow } from './escrow-service';
export { keyCheckValue, kcvMatches, KCV_LABEL, KCV_HEX_LENGTH } from './key-check-value';
export type { EscrowStore } from '../ports/escrow-store';
export type { EscrowRecord } from './escrow-record';
export { parseEscrowRecord, serializeEscrowRecord, canaryText, MAX_ESCROW_RECORD_BYTES } from './escrow-record';
export { restoreFromRsa, rsaEscrowLabel, rsaKeyFingerprint, loadRsaPublicKey, MIN_RSA_BITS } from './rsa-escrow';
export { SingleKeyProvider } from './single-key-provider';
