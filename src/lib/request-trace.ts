/**
 * Per-request id and start time, keyed by the Request itself: every hook (including onError
 * for unknown routes and malformed bodies, which run before any derive) sees the same id.
 */

export interface RequestTrace {
  requestId: string;
  /** performance.now() when the request arrived */
  receivedAt: number;
}

const traces = new WeakMap<Request, RequestTrace>();

let requestCounter = 0;
const nextRequestId = () => `req_${Date.now().toString(36)}_${(++requestCounter).toString(36)}`;

// A caller-supplied id is echoed only when it is short and plain, so it cannot smuggle anything into logs.
const acceptableIncomingId = /^[A-Za-z0-9._:-]{1,100}$/;

/** The request's trace, created on first sight (normally in onRequest). */
export function traceRequest(request: Request): RequestTrace {
  let trace = traces.get(request);
  if (!trace) {
    const incoming = request.headers.get('x-request-id');
    trace = {
      requestId: incoming && acceptableIncomingId.test(incoming) ? incoming : nextRequestId(),
      receivedAt: performance.now(),
    };
    traces.set(request, trace);
  }
  return trace;
}
