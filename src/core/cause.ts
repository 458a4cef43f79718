// Which line of a Flux message carries the cause. Flux's controllers put the cause last: a wrapper says what
// failed ("Failed to upgrade after 1 attempt(s): Helm upgrade failed for release apps/redis with chart
// redis@20.6.0: …") and the reason comes at the end, often on a line of its own ("…in the following chart(s):\n
// redis:\n- master.resources.limits.memory: Invalid type…"). A view that shows the first line, cut to the
// terminal's width, shows the wrapper and loses the cause. Pure: no I/O, no terminal handling (callers sanitise).
//
// The shapes handled (recorded from the real controllers in test/fixtures/transcripts, see test/unit/cause.test.ts):
// - helm-controller: `Helm <action> failed for release <ns>/<name> with chart <chart>@<version>: <cause>`, under
//   `Failed to <action> after N attempt(s): ` when Stalled, the cause sometimes on the last of several lines;
// - kustomize-controller: `kustomize build failed: accumulating resources: accumulation err='<cause>': must build
//   at directory: …` (the cause inside err='…', the rest repeats it for a directory);
// - kustomize-controller: `health check failed after <duration>: timeout waiting for: [<objects and status>]`;
// - kustomize-controller: `<Kind>/<ns>/<name> dry-run failed (<Reason>): <Kind> "<name>" is invalid: <cause>`
//   and `… dry-run failed: failed to create typed patch object (…): <cause>`, one line per rejected object.
// Any other message: its last non-empty line.

/** The non-empty lines of a message, trimmed. */
function lines(message: string): string[] {
  return message
    .split(/\r\n?|\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

const STALLED = /^Failed to [a-z]+ after \d+ attempt\(s\):\s*/i;
const HELM = /^(Helm [a-z]+ failed) for release \S+ with chart \S+?:\s+/i;
const HEALTH = /^health check failed after [^:]+:\s*/i;
const BUILD = /^kustomize build failed:\s*/i;
const DRY_RUN = /^(\S+\/\S+ dry-run failed)(?: \([A-Za-z]+\))?:\s*/;

/** A kubelet-style Go duration from a Flux message, rounded to what a person reads: `30.019469835s` → `30s`. */
function roundDuration(d: string): string {
  const m = /^(\d+)(\.\d+)?s$/.exec(d);
  if (!m) return d;
  // Whole seconds from 1 s on (`30.01s` → `30s`); under a second, to the tenth (`0.75s` → `0.8s`), never `0s`.
  const secs = Number(`${m[1]}${m[2] ?? ''}`);
  return secs >= 1 ? `${Math.floor(secs)}s` : `${Math.max(0.1, Math.round(secs * 10) / 10)}s`;
}

/** The kustomize build error without its wrapper: the error inside `err='…'` (the resource that failed), the controller's temporary directory removed. */
function buildCause(rest: string): string {
  // `accumulation err='<inner>': must build at directory: …`: the inner error ends at the quote followed by ': '.
  const m = /accumulation err='(.*?)':\s+must build at directory/.exec(rest);
  const inner = m ? m[1]! : rest;
  return inner.replace(/\/tmp\/kustomization-[^/\s']*\//g, '');
}

/** One dry-run line without the API server's restatement of the object: `Kind/ns/name dry-run failed: <cause>`. */
function dryRunCause(line: string): string | undefined {
  const m = DRY_RUN.exec(line);
  if (!m) return undefined;
  let rest = line.slice(m[0].length);
  // `ConfigMap "Bad_Name" is invalid: <field>: …` names the object the line already names.
  rest = rest.replace(/^[A-Za-z][\w.-]* "[^"]*" is invalid:\s*/, '');
  // `failed to create typed patch object (ns/name; /v1, Kind=ConfigMap): <cause>`
  rest = rest.replace(/^failed to create typed patch object \([^)]*\):\s*/, '');
  return `${m[1]}: ${rest}`;
}

/**
 * The line of `message` that carries the cause, for a view that has room for one line. Known shapes lose their
 * wrappers (kept short: `Helm upgrade failed: <cause>`); a message of several lines gives its last one (with the
 * shape's short head when there is one), or, for one line per rejected object, the first with `(+N more)`.
 * Empty for an empty message.
 */
export function causeLine(message: string | undefined): string {
  const all = lines(message ?? '');
  if (all.length === 0) return '';
  let first = all[0]!;
  let head = '';
  first = first.replace(STALLED, '');
  const helm = HELM.exec(first);
  if (helm) {
    head = helm[1]!;
    first = first.slice(helm[0].length);
  }
  if (all.length > 1) {
    const dry = all.map(dryRunCause);
    if (dry.every((d) => d !== undefined)) return `${dry[0]} (+${all.length - 1} more)`;
    // The cause comes last; a list item's marker is not part of it.
    const last = all[all.length - 1]!.replace(/^[-*•]\s+/, '');
    return head ? `${head}: ${last}` : last;
  }
  if (!first) return all[0]!;
  let cause = first;
  const health = HEALTH.exec(first);
  if (health) {
    // The reason (HealthCheckFailed) says it is the health check; what timed out is the cause.
    const after = /after (\S+?):/i.exec(health[0]);
    cause = `${first.slice(health[0].length)}${after ? ` (after ${roundDuration(after[1]!)})` : ''}`;
  } else if (BUILD.test(first)) {
    cause = `kustomize build failed: ${buildCause(first.replace(BUILD, '').replace(/^accumulating resources:\s*/, ''))}`;
  } else {
    cause = dryRunCause(first) ?? first;
  }
  return head ? `${head}: ${cause}` : cause;
}

/** Whether the message has more than its cause line says (several lines, or a wrapper the cause line drops). */
export function hasMoreThanCause(message: string | undefined): boolean {
  const all = lines(message ?? '');
  return all.length > 1 || (all.length === 1 && causeLine(message) !== all[0]);
}
