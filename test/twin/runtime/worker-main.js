'use strict';
/*
 * One Lambda execution environment of the twin: the part of Lambda's Node.js runtime
 * (aws-lambda-nodejs-runtime-interface-client) a function can observe, driven over IPC by
 * ./worker.ts instead of the Runtime API.
 *
 * - Init: requires `${LAMBDA_TASK_ROOT}/<module>` once (the cold start) and finds the exported
 *   handler named by `_HANDLER` (`index.handler`).
 * - Invoke: calls `handler(event, context)` and awaits it. Node.js 24 supports async handlers
 *   only ("Lambda only supports callback-based function handlers for Node.js 22 and earlier",
 *   "Using the Lambda context object to retrieve Node.js function information").
 * - Errors become `{ errorType, errorMessage, trace }`, the RIC's `toRapidResponse`
 *   (src/Errors.js), also the shape "AWS Lambda function errors in Node.js" documents.
 * - console.* lines get the runtime's text format `<ISO time>\t<request id>\t<LEVEL>\t<message>`
 *   ("Log and monitor Node.js Lambda functions": example log format).
 * After each phase the worker writes a sentinel line on stdout and stderr so the parent can
 * attribute every output line to the phase (and invocation) that wrote it.
 */
const path = require('node:path');
const Module = require('node:module');
const util = require('node:util');
const { performance } = require('node:perf_hooks');

const clock = globalThis[Symbol.for('rekey.twin.clock')];
if (clock === undefined) throw new Error('twin worker: sim-date-shim.js was not preloaded');
const taskRoot = process.env.LAMBDA_TASK_ROOT;

// Lambda resolves modules only inside the deployment package (and /opt, the runtime's own):
// never from the checkout around cdk.out, so a bundle that forgot a dependency fails here too.
const nodeModulePaths = Module._nodeModulePaths;
Module._nodeModulePaths = function restrictedPaths(from) {
  return nodeModulePaths.call(this, from).filter((p) => p.startsWith(taskRoot + path.sep));
};
Module.globalPaths.length = 0;

let requestId = undefined;
const write = (text) => process.stdout.write(text);
const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
for (const [method, level] of Object.entries(levels)) {
  console[method] = (...args) => {
    const message = method === 'trace' ? `${util.format(...args)}\n${new Error().stack.split('\n').slice(2).join('\n')}` : util.format(...args);
    write(`${new Date().toISOString()}\t${requestId}\t${level}\t${message.replace(/\n/g, '\r')}\n`);
  };
}

function toRapidResponse(error) {
  if (util.types.isNativeError(error) || (error && typeof error.name === 'string' && typeof error.message === 'string' && typeof error.stack === 'string')) {
    return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function sentinel(seq) {
  const line = `\u001eTWIN-END:${seq}\u001e\n`;
  process.stdout.write(line);
  process.stderr.write(line);
}

let handler;

function init() {
  const spec = process.env._HANDLER || '';
  const dot = spec.lastIndexOf('.');
  const moduleName = spec.slice(0, dot);
  const exportName = spec.slice(dot + 1);
  let mod;
  try {
    mod = require(path.join(taskRoot, moduleName));
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(path.join(taskRoot, moduleName))) {
      const e = new Error(`Cannot find module '${moduleName}'`);
      e.name = 'Runtime.ImportModuleError';
      throw e;
    }
    throw err;
  }
  const fn = mod === null || mod === undefined ? undefined : mod[exportName];
  if (typeof fn !== 'function') {
    const e = new Error(`${spec} is undefined or not exported`);
    e.name = 'Runtime.HandlerNotFound';
    throw e;
  }
  handler = fn;
}

async function invoke(msg) {
  requestId = msg.requestId;
  const started = performance.now();
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: msg.invokedFunctionArn,
    // A string, as the runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: msg.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    // The function's own timeout, counted down at the twin's time scale: it reaches 0 exactly
    // when the parent kills the worker for timing out.
    getRemainingTimeInMillis: () => Math.max(0, Math.round(msg.timeoutMs - (performance.now() - started) / msg.timeScale)),
  };
  try {
    const result = await handler(msg.event, context);
    const payload = JSON.stringify(result === undefined ? null : result);
    return { ok: true, payload };
  } catch (err) {
    const response = toRapidResponse(err);
    // The runtime logs every failed invocation before reporting it.
    console.error('Invoke Error', `\t${JSON.stringify(response)}`);
    return { ok: false, error: response };
  } finally {
    requestId = undefined;
  }
}

process.on('message', (msg) => {
  clock.set(msg.now);
  if (msg.type === 'init') {
    let error;
    try {
      init();
    } catch (err) {
      error = toRapidResponse(err);
    }
    sentinel(msg.seq);
    process.send({ type: 'init-done', seq: msg.seq, error });
    return;
  }
  if (msg.type === 'invoke') {
    void invoke(msg).then((outcome) => {
      sentinel(msg.seq);
      process.send({ type: 'result', seq: msg.seq, ...outcome });
    });
  }
});
