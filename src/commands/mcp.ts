// `flux-monitor mcp`: a Model Context Protocol server over stdio, for agents (Kiro and other MCP clients).
// Three tools, each answering with the JSON the CLI prints with --json (docs/mcp.md):
//   watch_commit  ≙ `watch --json`          (the NDJSON events, as one JSON array; phase events as progress)
//   get_session   ≙ `status [ID] --json`    (the stored session plus liveness, or {"session": null, …})
//   list_history  ≙ `history --json`        (past sessions, newest first)
// Only protocol goes to stdout; logs go to stderr. The server ends when the client goes away (stdin ends),
// stopping the watches it runs.
//
// The caller is not trusted (an agent can be talked into a call by text in what it reads): what the server may
// touch is decided when it starts, by whoever starts it. The kubeconfig (`--kubeconfig`, else $KUBECONFIG, else
// ~/.kube/config) and the contexts (`--context`) a call may name, the directories a call may name as its
// repository (`--repo`, else the client's workspace root, else the working directory, realpath'd), and whether
// anything may be written to the cluster (`--read-only`). Anything else is an `isError` result naming the flag
// that allows it. docs/mcp.md#security.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  RootsListChangedNotificationSchema,
  type CallToolResult,
  type JSONRPCMessage,
  type ServerNotification,
  type ServerRequest,
  type ToolAnnotations,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import * as z from 'zod/v4';
import type { MonitorEvent, SessionState } from '../core/types.js';
import { diagnosisHeadline } from '../core/workloads.js';
import type { ClusterClient } from '../cluster/client.js';
import { MonitorError } from '../cluster/errors.js';
import { statePaths } from '../session/paths.js';
import { liveness, type Liveness, type StoredSession } from '../session/store.js';
import { formatDuration, nodeLabel, summarize } from '../ui/layout.js';
import { bool, list, parseArgs, str, UsageError, type ParsedArgs } from './args.js';
// What the tools run (status, history, watch, git, yaml) is loaded when a tool is called, not before `initialize`.
import type { NoSessionJson, StatusJson } from './status.js';
import type { Command, CommandIO } from './types.js';
import type { WATCH_FLAGS, WatchRun } from './watch.js';
import { packageVersion } from './version.js';

/** What the tools run with: the command's IO and what the server was started with (`flux-monitor mcp` flags). */
export interface McpContext {
  io: CommandIO;
  /**
   * `mcp --repo PATH`, absolute: the repository of calls that name none, and the one directory tree calls may
   * name a repository in. `repos` (every `--repo`) wins over it.
   */
  repo?: string;
  /**
   * Every `mcp --repo PATH`, absolute: the roots a call may name a repository under (realpath'd, so a symlink
   * cannot lead out); the first is the repository of calls that name none. Without any: the client's first
   * `file://` root (MCP roots: the workspace the client has open), else the server's working directory, is
   * both the default repository and the one root.
   */
  repos?: string[];
  /**
   * `mcp --kubeconfig PATH` (absolute paths, separated as in $KUBECONFIG): the only kubeconfig tools use.
   * Default: $KUBECONFIG of the server's environment, else ~/.kube/config, as the server starts.
   */
  kubeconfig?: string;
  /** `mcp --context C`: the only contexts calls may follow (default: every context of the kubeconfig). */
  contexts?: string[];
  /** `mcp --read-only`: nothing is written to the cluster (autoReconcile is refused, auto_reconcile ignored). */
  readOnly?: boolean;
  /** While a tool waits and the client asked for progress, a progress notification at least this often (ms). */
  heartbeatMs?: number;
  /** At most this many watch_commit and waiting get_session calls at once (default MAX_WAITING_CALLS). */
  maxWaitingCalls?: number;
  /** A watch_commit result keeps at most this many events besides its `session` and `summary` events (default MAX_EVENTS). */
  maxEvents?: number;
}

/** The part of a tool call a handler uses: cancellation, and progress when the client sent a progress token. */
export interface ToolCall {
  signal: AbortSignal;
  /** Sends one `notifications/progress` (absent when the client sent no progress token). */
  progress?: (message: string) => Promise<void>;
}

/** Where a call may look: the repository of calls that name none, and the roots a named repository must be in. */
export interface RepoScope {
  base: string;
  roots: string[];
}

const HEARTBEAT_MS = 10_000;
/** watch_commit and get_session with `wait` calls under way at once, at most (each holds watches or a poll loop). */
export const MAX_WAITING_CALLS = 4;
/** Events a watch_commit result keeps between its `session` and `summary` events, at most (the oldest go first). */
export const MAX_EVENTS = 2000;
/** …and their JSON, at most this many characters. */
const MAX_EVENT_CHARS = 8_000_000;

// ---- tool schemas ---------------------------------------------------------------------------------------------

const duration = z
  // Any number: the limits are checked as for the flags, with the same words (src/core/duration.ts).
  .union([z.string().min(1), z.number()])
  .describe('A duration: "90s", "5m", "1h30m", or a number of seconds.');

const repoArg = z
  .string()
  .min(1)
  .describe(
    "Path of the git repository, absolute or relative to the default one (default: the first `flux-monitor mcp --repo PATH`, else the client's workspace root, else the server's working directory). " +
      'It must be inside a directory the server was started for (`--repo`, else that default).',
  );

export const WATCH_COMMIT_ARGS = {
  revision: z.string().min(1).optional().describe('The commit to follow: a sha or any git revision of the repository (default: HEAD). Outside a repository, a sha, with repoUrl and branch (or all).'),
  branch: z.string().min(1).optional().describe('The branch Flux follows (default: the branch checked out).'),
  repo: repoArg.optional(),
  repoUrl: z.string().min(1).optional().describe("The repository URL the GitRepositories use (default: the URL of the branch's upstream remote)."),
  remote: z.string().min(1).optional().describe('The git remote whose URL to match (default: the upstream of the branch, else origin).'),
  context: z
    .string()
    .min(1)
    .optional()
    .describe("A context of the server's kubeconfig (and one of its `--context` flags, if it was started with any). Default: the contexts of the hook configuration, else the server's `--context` flags, else the current context."),
  contexts: z
    .array(z.string().min(1))
    .optional()
    .describe('Several contexts of the server\'s kubeconfig: the commit is followed on each cluster; events then carry `cluster`, and the last summary has the overall verdict (the worst) and `clusters`.'),
  kubeconfig: z
    .string()
    .optional()
    .describe('Not accepted: the kubeconfig is chosen when the server starts (`flux-monitor mcp --kubeconfig PATH`); a call that passes one is refused. Name a context instead.'),
  timeout: duration.optional().describe('Give up with verdict "timeout" after this long (1s to 24h): "90s", "5m", or seconds (default: the repository\'s hook configuration, 300 s).'),
  pollInterval: duration.optional().describe('Polling period when the API server refuses watches (250ms to 10m): "2s", or seconds (default 2 s).'),
  all: z.boolean().optional().describe('Follow every Flux object, whatever repository it comes from.'),
  namespaces: z.array(z.string().min(1)).optional().describe('Namespaces to read when listing cluster-wide is forbidden.'),
  autoReconcile: z
    .boolean()
    .optional()
    .describe('Ask Flux to fetch the commit now (annotates the matched sources) instead of waiting for its interval. Refused when the server runs with --read-only.'),
  failFast: z
    .boolean()
    .optional()
    .describe('true: end with verdict "failed" as soon as a workload Flux waits for is failing for good (image not found, crash loop, unschedulable…) and that held for the grace period, before Flux gives up; false: wait for Flux\'s own verdict. Default: the hook configuration\'s fail_fast (on).'),
  failFastGrace: duration
    .optional()
    .describe('How long a failing workload must stay so before failFast ends the session (0s to 1h): "30s", "2m", or seconds (default: the hook configuration\'s fail_fast_grace, 30 s).'),
  output: z
    .enum(['events', 'summary'])
    .optional()
    .describe('"events" (default): every `watch --json` event in order (session, phase, warning, error, summary); "summary": only the final summary event (verdict, exitCode, message, counts, and the final state of every affected object).'),
};

export const GET_SESSION_ARGS = {
  id: z.string().min(1).optional().describe("A session ID or a unique prefix of one (default: the session of the repository's newest push: the running one, else the newest not superseded)."),
  repo: repoArg.optional(),
  wait: z.boolean().optional().describe('Wait until the session is no longer running and return its final state (without id, following the session of a newer push that supersedes it). Default false: return the current state at once.'),
};

export const LIST_HISTORY_ARGS = {
  limit: z.number().int().positive().optional().describe('At most this many sessions (default 20).'),
  all: z.boolean().optional().describe('Sessions of every repository, not only those of the repository.'),
  repo: repoArg.optional(),
};

type Args<T extends z.ZodRawShape> = z.infer<z.ZodObject<T>>;
export type WatchCommitArgs = Args<typeof WATCH_COMMIT_ARGS>;
export type GetSessionArgs = Args<typeof GET_SESSION_ARGS>;
export type ListHistoryArgs = Args<typeof LIST_HISTORY_ARGS>;

/** What the tools tell clients about themselves (MCP tool annotations); watch_commit reads only with --read-only. */
export function toolAnnotations(readOnly: boolean): Record<'watch_commit' | 'get_session' | 'list_history', ToolAnnotations> {
  return {
    // Reads the cluster (an open world); without --read-only, autoReconcile writes the reconcile.fluxcd.io/requestedAt
    // annotation (an update, nothing deleted: not destructive; a new token each call: not idempotent).
    watch_commit: readOnly
      ? { readOnlyHint: true, openWorldHint: true }
      : { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    // Read the local state directory only.
    get_session: { readOnlyHint: true, openWorldHint: false },
    list_history: { readOnlyHint: true, openWorldHint: false },
  };
}

// ---- tool handlers --------------------------------------------------------------------------------------------

/** A call the server refuses: what it asked for is not allowed by the flags the server was started with. */
export class RefusedError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RefusedError';
  }
}

/**
 * The flags of `flux-monitor watch` that the arguments of watch_commit stand for. Never `--kubeconfig`: the
 * server's kubeconfig is chosen when it starts (watchCommit refuses a call that names one).
 */
export function watchFlags(a: WatchCommitArgs): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const set = (name: keyof typeof WATCH_FLAGS, v: string | number | boolean | string[] | undefined) => {
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) return;
    flags[name] = typeof v === 'number' ? String(v) : v;
  };
  set('revision', a.revision);
  set('branch', a.branch);
  set('repo-url', a.repoUrl);
  set('remote', a.remote);
  set('context', a.contexts?.length ? a.contexts : a.context ? [a.context] : undefined);
  set('timeout', a.timeout);
  set('poll-interval', a.pollInterval);
  set('all', a.all);
  set('namespace', a.namespaces);
  set('auto-reconcile', a.autoReconcile);
  set('fail-fast', a.failFast === true);
  set('no-fail-fast', a.failFast === false);
  set('fail-fast-grace', a.failFastGrace);
  return { flags, positionals: [] };
}

/** The argument of watch_commit each flag of `watch` stands for, for the messages `watch` words with its flags. */
const FLAG_ARGS: Record<string, string> = {
  'repo-url': 'repoUrl',
  'poll-interval': 'pollInterval',
  'auto-reconcile': 'autoReconcile',
  namespace: 'namespaces',
  revision: 'revision',
  branch: 'branch',
  remote: 'remote',
  context: 'context',
  timeout: 'timeout',
  all: 'all',
  'fail-fast': 'failFast',
  'fail-fast-grace': 'failFastGrace',
};
const BOOLEAN_ARGS = new Set(['all', 'autoReconcile', 'failFast']);

/**
 * A message of `watch` in the words of the tool: `--timeout: invalid duration` → `timeout: invalid duration`,
 * `pass --revision SHA` → `pass revision: SHA`, `or --all` → `or all: true`.
 */
export function argWords(text: string): string {
  return text.replace(/--([a-z][a-z-]*)\b(:?)( [A-Z]+\b)?/g, (m, flag: string, colon: string, value: string | undefined) => {
    if (flag === 'no-fail-fast') return 'failFast: false';
    const arg = FLAG_ARGS[flag];
    if (!arg) return m;
    if (colon) return `${arg}:${value ?? ''}`;
    if (value) return `${arg}:${value}`;
    return BOOLEAN_ARGS.has(arg) ? `${arg}: true` : arg;
  });
}

/** `err` with its message and hint in the words of the tool (argWords). */
function inArgWords(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const info = (err as { info?: { hint?: string } }).info;
  const hint = (err as { hint?: unknown }).hint;
  const h = typeof hint === 'string' ? hint : info?.hint;
  return Object.assign(new Error(argWords(err.message)), h === undefined ? {} : { hint: argWords(h) });
}

/**
 * watch_commit: `flux-monitor watch --json` in the server, to the verdict. The result is the JSON array of the
 * events `--json` prints (or of the summary alone); each phase change (and each cluster error) is also sent as a
 * progress notification when the client asked for progress. Cancelling the call stops the watch.
 *
 * Only the server's kubeconfig is used, only its contexts (its --context flags, if any), only a repository under
 * its roots, and with --read-only nothing is written to the cluster: anything else is refused (RefusedError).
 */
export async function watchCommit(ctx: McpContext, a: WatchCommitArgs, call: ToolCall, scope: RepoScope = defaultScope(ctx)): Promise<CallToolResult> {
  if (a.kubeconfig !== undefined) {
    throw new RefusedError(
      'kubeconfig: refused: the kubeconfig is chosen when the server starts, not by a tool call: flux-monitor mcp --kubeconfig PATH',
      `name a context of the server's kubeconfig instead (context, contexts)${ctx.contexts?.length ? `: ${ctx.contexts.join(', ')}` : ''}`,
    );
  }
  if (ctx.readOnly && a.autoReconcile) {
    throw new RefusedError(
      'autoReconcile: refused: this server is read-only (flux-monitor mcp --read-only), and autoReconcile writes to the cluster (it annotates Flux objects)',
      'call without autoReconcile; a server started without --read-only allows it',
    );
  }
  const cwd = a.repo === undefined ? scope.base : allowedRepo(scope, a.repo);
  const io = { ...ctx.io, cwd, stderr: toolStderr(ctx.io.stderr, 'watch_commit') };
  let run: WatchRun;
  try {
    const { prepareWatch } = await import('./watch.js');
    run = await prepareWatch(io, watchFlags(a));
  } catch (err) {
    throw inArgWords(err);
  }
  const kubeconfig = ctx.kubeconfig ?? serverKubeconfig(ctx.io);
  const warnings: string[] = [];
  // The contexts followed: those the call names, else those of the repository's hook file, else the server's.
  // A call and a repository's file may only name contexts the server allows; the server's own are its choice.
  const named = run.contexts ?? [];
  const fromFile = named.length ? [] : run.config.contexts;
  const { parse: parseYaml } = await import('yaml');
  if (named.length) checkContexts(ctx, kubeconfig, named, '', parseYaml);
  else if (fromFile.length) checkContexts(ctx, kubeconfig, fromFile, ` (contexts: of ${HOOK_FILE})`, parseYaml);
  const contexts = named.length ? named : fromFile.length ? fromFile : (ctx.contexts ?? []);
  let config = { ...run.config, contexts };
  if (ctx.readOnly && config.auto_reconcile) {
    config = { ...config, auto_reconcile: false };
    warnings.push(`auto_reconcile of ${HOOK_FILE} is ignored: this server is read-only (flux-monitor mcp --read-only) and writes nothing to the cluster`);
  }

  const events = new EventLog(ctx.maxEvents ?? MAX_EVENTS, run.sessionId ?? '', warnings);
  for (const w of warnings) log(ctx, `watch_commit: warning: ${w}`);
  let latest: SessionState | undefined;
  const progress = new Progress(call, ctx.heartbeatMs, () => latest && stateLine(latest));
  const ac = new AbortController();
  const stop = () => ac.abort('stopped');
  if (call.signal.aborted) stop();
  call.signal.addEventListener('abort', stop, { once: true });
  try {
    const { runMonitor } = await import('../engine/run.js');
    const final = await runMonitor({
      ...run,
      config,
      contexts,
      context: undefined,
      kubeconfig,
      // What the server runs with, never what the repository or the call would set.
      env: { ...ctx.io.env, KUBECONFIG: kubeconfig },
      onClient: ctx.readOnly ? readOnlyClient : undefined,
      signal: ac.signal,
      onState: (s) => (latest = s),
      onEvent: (e) => {
        events.push(e);
        const line = eventLine(e);
        if (line) progress.send(line);
      },
    });
    if (final.verdict === 'error' && final.verdictMessage) log(ctx, `watch_commit: ${final.verdictMessage}`);
  } finally {
    call.signal.removeEventListener('abort', stop);
    await progress.close();
  }
  return text(`[${events.json(a.output === 'summary').join(',')}]`);
}

const HOOK_FILE = '.kiro/hooks/flux-reconciliation-monitor.yaml';

/** NOT_IN_REPO of `status`, in the words of the tools. */
export const NOT_IN_REPO_MCP =
  'not inside a git repository, and no session yet: name the repository you pushed from (repo), or give a session id (list_history with all: true lists them)';

/**
 * get_session: `flux-monitor status [ID] --json`: the stored session plus `liveness`, or `{"session": null,
 * "message"}` when there is none. With `wait`, follows the session (as `status --json --follow`) and returns its
 * last state; each update is sent as a progress notification.
 */
export async function getSession(ctx: McpContext, a: GetSessionArgs, call: ToolCall, scope: RepoScope = defaultScope(ctx)): Promise<CallToolResult> {
  const paths = statePaths(ctx.io.env);
  const repo = a.repo === undefined ? undefined : allowedRepo(scope, a.repo);
  const { FOLLOW_WAIT_MS, NOT_IN_REPO, noSessionJson, ONE_SHOT_WAIT_MS, pickSession, statusJson } = await import('./status.js');
  // Right after a push, its session may not be written yet: wait for it a moment (longer when asked to wait).
  const waitMs = a.wait ? FOLLOW_WAIT_MS : ONE_SHOT_WAIT_MS;
  const picked = await pickSession({ ...ctx.io, cwd: scope.base, stderr: toolStderr(ctx.io.stderr, 'get_session') }, paths, a.id, repo, { waitMs });
  if ('code' in picked) return json({ ...noSessionJson(picked), ...(picked.message === NOT_IN_REPO ? { message: NOT_IN_REPO_MCP } : {}) } satisfies NoSessionJson);
  const doc = (s: StoredSession, live: Liveness): StatusJson => statusJson(s, live);
  if (!a.wait) return json(doc(picked.session, liveness(picked.session)));

  let last = doc(picked.session, liveness(picked.session));
  let lastLine: string | undefined;
  let failed: Error | undefined;
  const { followNewest, followSession } = await import('../session/follow.js');
  const progress = new Progress(call, ctx.heartbeatMs, () => lastLine);
  const follow = a.id ? followSession : followNewest;
  const f = follow(
    paths,
    picked.id,
    (s, live) => {
      last = doc(s, live);
      const line = sessionLine(last);
      if (line !== lastLine) progress.send((lastLine = line));
    },
    (err) => (failed = err),
  );
  const stop = () => f.stop();
  if (call.signal.aborted) stop();
  call.signal.addEventListener('abort', stop, { once: true });
  try {
    await f.done;
  } finally {
    call.signal.removeEventListener('abort', stop);
    await progress.close();
  }
  if (failed) throw failed;
  return json(last);
}

/** list_history: `flux-monitor history --json [--all] [--limit N] [--repo PATH]`. */
export async function listHistory(ctx: McpContext, a: ListHistoryArgs, scope: RepoScope = defaultScope(ctx)): Promise<CallToolResult> {
  const dir = a.repo === undefined ? scope.base : allowedRepo(scope, a.repo);
  let repo: string | undefined;
  if (!a.all) {
    const { findRepoRoot } = await import('../git/discover.js');
    repo = await findRepoRoot(dir, ctx.io.env);
    // Never every repository's history for a directory that is no repository (as `history --repo` says too).
    if (!repo) return toolError(`repo: not a git repository: ${dir}`);
  }
  const { historyRows } = await import('./history.js');
  return json(historyRows({ ...ctx.io, stderr: toolStderr(ctx.io.stderr, 'list_history') }, { repo, limit: a.limit ?? 20 }));
}

// ---- what a call may touch ------------------------------------------------------------------------------------

/** The scope without a client: the roots of --repo (the first is the default), else the working directory. */
export function defaultScope(ctx: McpContext): RepoScope {
  const roots = fixedRoots(ctx) ?? [realpathLoose(ctx.io.cwd)];
  return { base: roots[0]!, roots };
}

function fixedRoots(ctx: McpContext): string[] | undefined {
  const given = ctx.repos?.length ? ctx.repos : ctx.repo ? [ctx.repo] : undefined;
  return given?.map((r) => realpathLoose(resolve(ctx.io.cwd, r)));
}

/**
 * The directory a call's `repo` names (relative to the default repository), with its symlinks resolved, when it
 * is inside one of the roots; else RefusedError naming the flag that allows it. The resolved path is what the
 * tool then uses, so what is checked is what is read.
 */
export function allowedRepo(scope: RepoScope, repo: string): string {
  const path = realpathLoose(resolve(scope.base, repo));
  if (scope.roots.some((root) => inside(root, path))) return path;
  throw new RefusedError(
    `repo ${repo}: refused: ${path} is outside the directories this server may use (${scope.roots.join(', ')}); flux-monitor mcp --repo ${path} allows it`,
    'the repositories a tool may use are chosen when the server starts: one --repo flag per directory',
  );
}

function inside(root: string, path: string): boolean {
  const r = relative(root, path);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/** `p` with every symlink resolved: its deepest existing ancestor's realpath, plus the part that does not exist. */
export function realpathLoose(p: string): string {
  const tail: string[] = [];
  let cur = resolve(p);
  for (;;) {
    try {
      return join(realpathSync.native(cur), ...tail);
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return resolve(p);
      tail.unshift(basename(cur));
      cur = parent;
    }
  }
}

/**
 * The kubeconfig of the server, as it starts: `--kubeconfig`, else $KUBECONFIG, else ~/.kube/config, each path
 * made absolute (separated as in $KUBECONFIG).
 */
export function serverKubeconfig(io: Pick<CommandIO, 'env' | 'cwd'>, flag?: string): string {
  const given = (flag ?? io.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const files = given.length ? given.map((f) => resolve(io.cwd, f)) : [join(io.env.HOME ?? homedir(), '.kube', 'config')];
  return files.join(delimiter);
}

/** The context names of the kubeconfig files that exist (unreadable files name none). */
function kubeconfigContexts(kubeconfig: string, parseYaml: (text: string) => unknown): { files: string[]; names: Set<string> } {
  const files = kubeconfig.split(delimiter).filter((f) => f && existsSync(f));
  const names = new Set<string>();
  for (const f of files) {
    try {
      const doc = parseYaml(readFileSync(f, 'utf8')) as { contexts?: unknown } | null;
      if (Array.isArray(doc?.contexts)) for (const c of doc.contexts) if (typeof c?.name === 'string') names.add(c.name);
    } catch {
      // the engine says what is wrong with it when it reads it
    }
  }
  return { files, names };
}

/** Every context named must be one of --context (when given) and one of the server's kubeconfig; else RefusedError. */
function checkContexts(ctx: McpContext, kubeconfig: string, named: string[], from: string, parseYaml: (text: string) => unknown): void {
  const allowed = ctx.contexts?.length ? ctx.contexts : undefined;
  const { files, names } = kubeconfigContexts(kubeconfig, parseYaml);
  for (const c of named) {
    if (allowed && !allowed.includes(c)) {
      throw new RefusedError(
        `context "${c}"${from}: refused: not one of the contexts this server may use (${allowed.join(', ')}); flux-monitor mcp --context ${c} allows it`,
        'the contexts a tool may use are chosen when the server starts: one --context flag per context',
      );
    }
    if (!names.has(c)) {
      throw new RefusedError(
        `context "${c}"${from}: refused: not a context of the server's kubeconfig (${files.join(', ') || `none found at ${kubeconfig}`})`,
        `${names.size ? `its contexts: ${[...names].join(', ')}. ` : ''}The kubeconfig is chosen when the server starts: flux-monitor mcp --kubeconfig PATH`,
      );
    }
  }
}

/** --read-only, whatever the engine asks: the client sends GET requests only (reads, lists and watches). */
export function readOnlyClient(client: ClusterClient): void {
  const request = client.request.bind(client);
  client.request = (<T>(method: string, path: string, o?: Parameters<ClusterClient['request']>[2]) =>
    method === 'GET'
      ? request<T>(method, path, o)
      : Promise.reject(
          new MonitorError({
            category: 'forbidden',
            message: `${method} ${path.split('?')[0]}: refused: the MCP server is read-only (flux-monitor mcp --read-only)`,
            hint: 'a server started without --read-only may write to the cluster',
          }),
        )) as ClusterClient['request'];
}

/**
 * The events of one watch_commit call, in order, bounded: every `session` and `summary` event, and at most `max`
 * others (at most MAX_EVENT_CHARS of JSON), the newest; when older ones had to go, a `warning` after the first
 * `session` event says how many.
 */
class EventLog {
  /** In order; null: left out. `keep`: a session or summary event, or a warning of the server's, never left out. */
  private events: Array<{ json: string; keep: boolean; overall?: boolean } | null> = [];
  /** Every event before this one is kept or left out. */
  private cursor = 0;
  private counted = 0;
  private chars = 0;
  private dropped = 0;

  constructor(
    private readonly max: number,
    private readonly session: string,
    /** The server's warnings (a hook file setting it ignores), shown after the first `session` event. */
    private readonly warnings: string[],
  ) {}

  push(e: MonitorEvent): void {
    const json = JSON.stringify(e);
    if (e.type === 'summary') {
      // With several clusters, each cluster's summary has `cluster`; the overall one (last) does not.
      this.events.push({ json, keep: true, overall: e.cluster === undefined });
      return;
    }
    if (e.type === 'session') {
      const first = !this.events.some((x) => x?.keep && x.overall === undefined);
      this.events.push({ json, keep: true });
      if (first) for (const w of this.warnings) this.events.push({ json: this.warning(w, e.session), keep: true });
      return;
    }
    this.events.push({ json, keep: false });
    this.counted++;
    this.chars += json.length;
    while (this.counted > this.max || (this.chars > MAX_EVENT_CHARS && this.counted > 1)) {
      while (this.events[this.cursor] === null || this.events[this.cursor]!.keep) this.cursor++;
      this.chars -= this.events[this.cursor]!.json.length;
      this.events[this.cursor] = null;
      this.counted--;
      this.dropped++;
    }
    if (this.cursor > 4096 && this.cursor * 2 > this.events.length) {
      const before = this.events.slice(0, this.cursor).filter((x) => x?.keep);
      this.events = [...before, ...this.events.slice(this.cursor)];
      this.cursor = before.length;
    }
  }

  /** The JSON of the events in order; `summaryOnly`: the overall summary alone (with several clusters, the last). */
  json(summaryOnly: boolean): string[] {
    if (summaryOnly) return this.events.filter((x) => x?.overall).map((x) => x!.json);
    const out = this.events.filter((x) => x !== null).map((x) => x.json);
    if (this.dropped) {
      const first = this.events.findIndex((x) => x?.keep && x.overall === undefined);
      const at = first < 0 ? 0 : this.events.slice(0, first + 1).filter((x) => x !== null).length;
      out.splice(at, 0, this.warning(`${this.dropped} earlier events are left out: a call keeps at most ${this.max} events besides the session and summary events; the summary holds the final state of every object`));
    }
    return out;
  }

  private warning(message: string, session = this.session): string {
    return JSON.stringify({ type: 'warning', time: new Date().toISOString(), session, message } satisfies MonitorEvent);
  }
}

// ---- the server -----------------------------------------------------------------------------------------------

/** An MCP server with the three tools. `running` holds the tool calls under way (the server waits for them). */
export function createMcpServer(ctx: McpContext): { server: McpServer; running: Set<Promise<unknown>> } {
  ctx = { ...ctx, kubeconfig: ctx.kubeconfig ?? serverKubeconfig(ctx.io) };
  const server = new McpServer(
    { name: 'flux-monitor', version: packageVersion() },
    {
      instructions:
        'flux-monitor follows a pushed git commit through Flux CD (sources, Kustomizations, HelmReleases, dependsOn) to a verdict. ' +
        'After a `git push`, the git hook starts a monitor: call get_session (wait: true to wait for its verdict). ' +
        'watch_commit follows a commit in this server, to its verdict. list_history lists past sessions. ' +
        'Results are the JSON the CLI prints with --json (docs/json-events.md). ' +
        "The kubeconfig, the contexts and the repositories the tools may use are chosen when the server starts; a call naming others is refused" +
        (ctx.readOnly ? '. This server is read-only: watch_commit never writes to the cluster (autoReconcile is refused).' : '.'),
    },
  );
  const running = new Set<Promise<unknown>>();

  // The default repository and the roots: --repo, else the client's workspace (its first file:// root), else the
  // working directory.
  const fixed = fixedRoots(ctx);
  let roots: Promise<string | undefined> | undefined;
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, () => void (roots = undefined));
  const scope = async (): Promise<RepoScope> => {
    if (fixed) return { base: fixed[0]!, roots: fixed };
    const cwd = realpathLoose(ctx.io.cwd);
    if (!server.server.getClientCapabilities()?.roots) return { base: cwd, roots: [cwd] };
    roots ??= server.server.listRoots(undefined, { timeout: 5000 }).then(
      (r) => {
        const root = r.roots.find((x) => x.uri.startsWith('file://'));
        return root ? realpathLoose(fileURLToPath(root.uri)) : undefined;
      },
      (err: Error) => {
        log(ctx, `could not list the client's roots (${err.message}); using ${cwd}`);
        return undefined;
      },
    );
    const base = (await roots) ?? cwd;
    return { base, roots: [base] };
  };
  const track = <T>(p: Promise<T>): Promise<T> => {
    running.add(p);
    void p.finally(() => running.delete(p)).catch(() => undefined);
    return p;
  };
  const handle = (name: string, fn: () => Promise<CallToolResult>) =>
    track(
      fn().catch((err: unknown) => {
        const r = toolError(err);
        log(ctx, `${name}: ${(r.content[0] as { text: string }).text.replace(/\n/g, ' ')}`);
        return r;
      }),
    );
  // The calls that wait (a watch, a get_session with wait) hold watches or a poll loop: at most so many at once.
  const maxWaiting = ctx.maxWaitingCalls ?? MAX_WAITING_CALLS;
  let waiting = 0;
  const waits = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (waiting >= maxWaiting) {
      throw new RefusedError(
        `${name}: refused: too many calls under way: this server runs at most ${maxWaiting} watch_commit and waiting get_session calls at once`,
        'wait for one of them to end (or cancel one), then call again',
      );
    }
    waiting++;
    try {
      return await fn();
    } finally {
      waiting--;
    }
  };
  const annotations = toolAnnotations(ctx.readOnly === true);

  server.registerTool(
    'watch_commit',
    {
      title: 'Watch a commit through Flux',
      description:
        'Follow what Flux CD does with a git commit (default: HEAD of the repository) until the verdict, like `flux-monitor watch --json`: ' +
        'which sources fetch it, which Kustomizations and HelmReleases apply it, what waits on dependencies, what fails and why. ' +
        'Returns a JSON array of the --json events: `session` (the objects followed), `phase` (each phase change of an object), ' +
        '`warning`, `error` (cluster problems, with a hint), and last `summary` (verdict success|failed|timeout|superseded|stopped|error|blocked, ' +
        'exitCode, message, counts, final state of each affected object). With output "summary", only the summary event. ' +
        'A Kustomization or HelmRelease whose waited-for workloads show conclusive evidence of failure (image not found, crash loop, missing ConfigMap key…) ' +
        'is phase `Failing` (with `failing`: the evidence, and when Flux gives up); with failFast (default: the repository\'s fail_fast, on) the verdict is then failed ' +
        'before Flux decides (summary `failFast`); failFast: false waits for Flux\'s own verdict. ' +
        'Runs until the verdict or the timeout (default 300 s); phase changes are sent as progress notifications when a progress token is given. ' +
        "Uses the server's kubeconfig; a context must be one of its contexts, a repository inside the directories the server was started for." +
        (ctx.readOnly ? ' This server is read-only: autoReconcile is refused.' : ''),
      inputSchema: WATCH_COMMIT_ARGS,
      annotations: annotations.watch_commit,
    },
    (args, extra) => handle('watch_commit', () => waits('watch_commit', async () => watchCommit(ctx, args, toolCall(extra), await scope()))),
  );
  server.registerTool(
    'get_session',
    {
      title: 'Read a monitoring session',
      description:
        "The monitoring session of the repository's newest push (the running one, else the newest not superseded), or the session with the given ID, " +
        'as `flux-monitor status --json` prints it: the stored session (id, repo, commit, status, verdict, verdictMessage, nodes by key with phase, reason, message, revision and blockers, error with hint, …) plus `liveness` (running, finished or dead). ' +
        'When there is no session: {"session": null, "message": "…"}. With wait: true, waits until the session ends and returns its final state.',
      inputSchema: GET_SESSION_ARGS,
      annotations: annotations.get_session,
    },
    (args, extra) =>
      handle('get_session', async () => {
        const run = async () => getSession(ctx, args, toolCall(extra), await scope());
        return args.wait ? waits('get_session', run) : run();
      }),
  );
  server.registerTool(
    'list_history',
    {
      title: 'List past monitoring sessions',
      description:
        'Past monitoring sessions of the repository (all: every repository), newest first, as `flux-monitor history --json` prints them: ' +
        'a JSON array of {id, repo, commit, startedAt, endedAt, durationMs, verdict, verdictMessage, counts, liveness}; running and dead sessions have no verdict.',
      inputSchema: LIST_HISTORY_ARGS,
      annotations: annotations.list_history,
    },
    (args) => handle('list_history', async () => listHistory(ctx, args, await scope())),
  );
  return { server, running };
}

/**
 * Serves MCP on io.stdin/io.stdout until the client goes away (stdin ends) or a signal ends the process; tool
 * calls under way are cancelled (a watch ends as `stopped`) and awaited. Nothing but protocol is written to
 * stdout: console output is sent to stderr meanwhile. A line that is not JSON is answered with a JSON-RPC Parse
 * error (-32700), a JSON value that is no JSON-RPC message with Invalid Request (-32600), both with id null.
 */
export async function serveStdio(ctx: McpContext): Promise<number> {
  const { io } = ctx;
  const { server, running } = createMcpServer(ctx);
  const transport = new StdioServerTransport(io.stdin, io.stdout);
  const closed = new Promise<void>((r) => (server.server.onclose = r));
  server.server.onerror = (err) => log(ctx, `protocol error: ${err.message}`);
  const close = () => void server.close().catch(() => undefined);
  const restoreConsole = consoleToStderr(io.stderr);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  io.stdin.once('end', close);
  io.stdin.once('close', close);
  for (const s of signals) process.once(s, close);
  try {
    await server.connect(transport);
    answerBadLines(transport);
    log(ctx, `serving the Model Context Protocol on stdio (${describeServer(ctx)})`);
    await closed;
    await Promise.allSettled([...running]);
  } finally {
    io.stdin.off('end', close);
    io.stdin.off('close', close);
    for (const s of signals) process.off(s, close);
    restoreConsole();
  }
  log(ctx, 'client disconnected, bye');
  return 0;
}

/**
 * The SDK's stdio transport reports a line it cannot read to `onerror` and drops it; JSON-RPC 2.0 wants an
 * answer: -32700 Parse error for what is not JSON, -32600 Invalid Request for JSON that is no message.
 */
function answerBadLines(transport: StdioServerTransport): void {
  const reported = transport.onerror;
  transport.onerror = (err) => {
    const error =
      err instanceof SyntaxError
        ? { code: -32700, message: `Parse error: ${err.message}` }
        : err.name === 'ZodError'
          ? { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 message' }
          : undefined;
    if (error) void transport.send({ jsonrpc: '2.0', id: null, error } as unknown as JSONRPCMessage).catch(() => undefined);
    reported?.(err);
  };
}

function describeServer(ctx: McpContext): string {
  const roots = fixedRoots(ctx);
  return [
    `repositories: ${roots ? roots.join(', ') : `the client's workspace root, else ${ctx.io.cwd}`}`,
    `kubeconfig: ${ctx.kubeconfig ?? serverKubeconfig(ctx.io)}`,
    `contexts: ${ctx.contexts?.length ? ctx.contexts.join(', ') : 'any of the kubeconfig'}`,
    ctx.readOnly ? 'read-only' : 'may write to the cluster (autoReconcile)',
  ].join('; ');
}

const MCP_FLAGS = {
  repo: { value: true, multiple: true },
  kubeconfig: { value: true },
  context: { value: true, multiple: true },
  'read-only': {},
} as const;

const mcp: Command = {
  name: 'mcp',
  summary: 'Serve the Model Context Protocol over stdio for agents (tools watch_commit, get_session, list_history)',
  usage: 'flux-monitor mcp [--kubeconfig PATH] [--context CTX]... [--repo PATH]... [--read-only]',
  async run(argv, io) {
    const p = parseArgs(argv, MCP_FLAGS);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    // Paths may hold commas: every --repo is one path.
    const repos = ((p.flags.repo as string[] | undefined) ?? []).map((r) => {
      const path = resolve(io.cwd, r);
      let dir: boolean;
      try {
        dir = statSync(path).isDirectory();
      } catch {
        throw new UsageError(`--repo ${r}: no such directory`);
      }
      if (!dir) throw new UsageError(`--repo ${r}: not a directory`);
      return realpathSync.native(path);
    });
    const flag = str(p, 'kubeconfig');
    if (flag !== undefined) {
      const files = flag.split(delimiter).filter(Boolean);
      if (!files.length) throw new UsageError('--kubeconfig needs a path');
      for (const f of files) if (!existsSync(resolve(io.cwd, f))) throw new UsageError(`--kubeconfig ${f}: no such file`);
    }
    const contexts = list(p, 'context');
    return serveStdio({
      io,
      repos: repos.length ? repos : undefined,
      kubeconfig: serverKubeconfig(io, flag),
      contexts: contexts.length ? contexts : undefined,
      readOnly: bool(p, 'read-only'),
    });
  },
};
export default mcp;

// ---- helpers --------------------------------------------------------------------------------------------------

/** The ToolCall of an SDK request: its abort signal, and progress notifications if it carries a progress token. */
export function toolCall(extra: RequestHandlerExtra<ServerRequest, ServerNotification>): ToolCall {
  const token = extra._meta?.progressToken;
  let n = 0;
  return {
    signal: extra.signal,
    progress:
      token === undefined
        ? undefined
        : (message) => extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++n, message } }),
  };
}

/**
 * Progress of one call: messages in order, plus a heartbeat that repeats the current state while nothing else is
 * sent (clients that reset their request timeout on progress then wait as long as the tool runs).
 */
class Progress {
  private sent: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: ToolCall,
    heartbeatMs = HEARTBEAT_MS,
    current: () => string | undefined,
  ) {
    if (!call.progress) return;
    this.timer = setInterval(() => {
      const line = current();
      if (line) this.send(line);
    }, heartbeatMs);
    this.timer.unref();
  }

  send(message: string): void {
    const progress = this.call.progress;
    if (!progress || this.call.signal.aborted) return;
    this.timer?.refresh();
    this.sent = this.sent.then(() => progress(message)).catch(() => undefined);
  }

  /** Stops the heartbeat; settles once every notification is sent (before the result, so they arrive first). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sent;
  }
}

/** One line per phase change and cluster error: `Kustomization flux-system/apps: Ready (ReconciliationSucceeded)`. */
function eventLine(e: MonitorEvent): string | undefined {
  const line = eventLineOf(e);
  // Several clusters: say which one.
  return line && e.cluster !== undefined ? `${e.cluster}: ${line}` : line;
}

function eventLineOf(e: MonitorEvent): string | undefined {
  if (e.type === 'phase') return `${nodeLabel(e)}: ${e.phase}${e.reason ? ` (${e.reason})` : ''}`;
  if (e.type === 'error') return `${e.recovered ? 'recovered' : 'error'} (${e.category}): ${e.message}`;
  if (e.type === 'diagnosis') {
    const why = diagnosisHeadline(e.diagnosis);
    return why ? `${nodeLabel(e)}: diagnosis: ${why}` : undefined;
  }
  return undefined;
}

/** `running 12s: 3 ready, 1 progressing, 0 waiting, 0 failed, 2 pending`. */
function stateLine(s: SessionState): string {
  return `${s.verdict ?? s.status} ${formatDuration(Date.now() - s.startedAt)}: ${summarize(s).countsLine}`;
}

function sessionLine(s: StatusJson): string {
  return `${s.id} ${s.liveness}${s.verdict ? ` ${s.verdict}` : ''}: ${summarize(s).countsLine}`;
}

function text(t: string): CallToolResult {
  return { content: [{ type: 'text', text: t }] };
}

function json(v: unknown): CallToolResult {
  return text(JSON.stringify(v));
}

/** A tool error result: the message and hint the CLI would print on stderr. */
export function toolError(err: unknown): CallToolResult {
  const msg = err instanceof Error ? err.message : String(err);
  const info = (err as { info?: { hint?: string }; hint?: unknown }) ?? {};
  const hint = typeof info.hint === 'string' ? info.hint : info.info?.hint;
  return { isError: true, content: [{ type: 'text', text: hint ? `${msg}\nhint: ${hint}` : msg }] };
}

function log(ctx: McpContext, line: string): void {
  ctx.io.stderr.write(`flux-monitor mcp: ${line}\n`);
}

/**
 * The stderr a tool hands to the code of the commands: their lines, prefixed `flux-monitor status:` or
 * `flux-monitor:`, are the server's, prefixed `flux-monitor mcp: <tool>:`.
 */
function toolStderr(stderr: CommandIO['stderr'], tool: string): CommandIO['stderr'] {
  const write = (chunk: unknown, ...rest: unknown[]) =>
    (stderr.write as (...a: unknown[]) => boolean)(String(chunk).replace(/^flux-monitor(?: [a-z-]+)?: /gm, `flux-monitor mcp: ${tool}: `), ...rest);
  return new Proxy(stderr, {
    get: (t, k) => {
      if (k === 'write') return write;
      const v: unknown = Reflect.get(t, k);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** Sends console.log/info/debug to stderr (stdout carries the protocol); returns the restore function. */
function consoleToStderr(stderr: { write(s: string): unknown }): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  const toStderr = (...args: unknown[]) => void stderr.write(format(...args) + '\n');
  console.log = console.info = console.debug = toStderr;
  return () => Object.assign(console, saved);
}

