'use strict';
/*
 * Loaded with `node --require` before anything else in a twin worker: makes `Date.now()`,
 * `new Date()` and `Date()` read the simulated clock. The parent sends the SimClock's time with
 * every message; time inside the worker is that base plus the real milliseconds elapsed since it
 * arrived, so durations measured with Date stay real while the calendar is simulated.
 * Timers (setTimeout, setInterval) and performance.now() stay real on purpose: a function must
 * never sleep for simulated time.
 */
const { performance } = require('node:perf_hooks');

const RealDate = Date;
let baseSim = RealDate.now();
let baseReal = performance.now();

function simNow() {
  return Math.floor(baseSim + (performance.now() - baseReal));
}

function SimDate(...args) {
  // `Date()` called as a function returns the current time as a string.
  if (new.target === undefined) return new RealDate(simNow()).toString();
  return Reflect.construct(RealDate, args.length === 0 ? [simNow()] : args, new.target);
}
// Same prototype: instanceof Date, Date.prototype methods and toISOString keep working.
SimDate.prototype = RealDate.prototype;
Object.setPrototypeOf(SimDate, RealDate);
SimDate.now = simNow;
SimDate.parse = RealDate.parse;
SimDate.UTC = RealDate.UTC;
Object.defineProperty(SimDate, 'name', { value: 'Date' });

globalThis.Date = SimDate;

Object.defineProperty(globalThis, Symbol.for('rekey.twin.clock'), {
  value: Object.freeze({
    /** Sets the simulated time to `ms` now. */
    set(ms) {
      baseSim = ms;
      baseReal = performance.now();
    },
    now: simNow,
  }),
});
