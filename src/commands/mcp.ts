// `flux-monitor mcp`: a Model Context Protocol server over stdio, for agents (Kiro and other MCP clients).
// Three tools, each answering with the JSON the CLI prints with --json (docs/mcp.md):
//   watch_commit  ≙ `watch --json`          (the NDJSON events, as one JSON array; phase events as progress)
//   get_session   ≙ `status [ID] --json`    (the stored session plus liveness, or {"session": null, …})
//   list_history  ≙ `history --json`        (past sessions, newest first)
// Only protocol goes to stdout; logs go to stderr. The server ends when the client goes away (stdin ends),
// stopping the watches it runs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { RootsListChangedNotificationSchema, type CallToolResult, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { z } from 'zod';
import type { MonitorEvent, SessionState } from '../core/types.js';
import { diagnosisHeadline } from '../core/workloads.js';
import { runMonitor } from '../engine/run.js';
import { statePaths } from '../session/paths.js';
import { liveness, type Liveness, type StoredSession } from '../session/store.js';
import { followNewest, followSession } from '../session/follow.js';
import { gitInfo } from '../git/repo.js';
import { formatDuration, nodeLabel, summarize } from '../ui/layout.js';
import { parseArgs, str, UsageError, type ParsedArgs } from './args.js';
import { historyRows } from './history.js';
import { pickSession, type NoSessionJson, type StatusJson } from './status.js';
import type { Command, CommandIO } from './types.js';
import { prepareWatch, WATCH_FLAGS } from './watch.js';

/** What the tools run with: the command's IO, the default repository, and the progress heartbeat. */
export interface McpContext {
  io: CommandIO;
  /**
   * The repository of calls that name none (`mcp --repo PATH`, absolute). Without it: the client's first
   * `file://` root (MCP roots: the workspace the client has open), else the server's working directory.
   */
  repo?: string;
  /** While a tool waits and the client asked for progress, a progress notification at least this often (ms). */
  heartbeatMs?: number;
}

/** The part of a tool call a handler uses: cancellation, and progress when the client sent a progress token. */
export interface ToolCall {
  signal: AbortSignal;
  /** Sends one `notifications/progress` (absent when the client sent no progress token). */
  progress?: (message: string) => Promise<void>;
}

const HEARTBEAT_MS = 10_000;

// ---- tool schemas ---------------------------------------------------------------------------------------------

const duration = z
  .union([z.string().min(1), z.number().positive()])
  .describe('A duration: "90s", "5m", "1h30m", or a number of seconds.');

const repoArg = z
  .string()
  .min(1)
  .describe("Path of the git repository, absolute or relative to the default one (default: `flux-monitor mcp --repo PATH`, else the client's workspace root, else the server's working directory).");

export const WATCH_COMMIT_ARGS = {
  revision: z.string().min(1).optional().describe('The commit to follow: a sha or any git revision of the repository (default: HEAD). Outside a repository, a sha, with repoUrl and branch (or all).'),
  branch: z.string().min(1).optional().describe('The branch Flux follows (default: the branch checked out).'),
  repo: repoArg.optional(),
  repoUrl: z.string().min(1).optional().describe("The repository URL the GitRepositories use (default: the URL of the branch's upstream remote)."),
  remote: z.string().min(1).optional().describe('The git remote whose URL to match (default: the upstream of the branch, else origin).'),
  context: z.string().min(1).optional().describe('Kubeconfig context (default: the contexts of the hook configuration, else the current context).'),
  contexts: z
    .array(z.string().min(1))
    .optional()
    .describe('Several kubeconfig contexts: the commit is followed on each cluster; events then carry `cluster`, and the last summary has the overall verdict (the worst) and `clusters`.'),
  kubeconfig: z.string().min(1).optional().describe('Path of the kubeconfig, absolute or relative to the repository (default: $KUBECONFIG of the server, then ~/.kube/config).'),
  timeout: duration.optional().describe('Give up with verdict "timeout" after this long: "90s", "5m", or seconds (default: the repository\'s hook configuration, 300 s).'),
  pollInterval: duration.optional().describe('Polling period when the API server refuses watches: "2s", or seconds (default 2 s).'),
  all: z.boolean().optional().describe('Follow every Flux object, whatever repository it comes from.'),
  namespaces: z.array(z.string().min(1)).optional().describe('Namespaces to read when listing cluster-wide is forbidden.'),
  autoReconcile: z.boolean().optional().describe('Ask Flux to fetch the commit now (annotates the matched sources) instead of waiting for its interval.'),
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

// ---- tool handlers --------------------------------------------------------------------------------------------

/** The flags of `flux-monitor watch` that the arguments of watch_commit stand for. */
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
  set('kubeconfig', a.kubeconfig);
  set('timeout', a.timeout);
  set('poll-interval', a.pollInterval);
  set('all', a.all);
  set('namespace', a.namespaces);
  set('auto-reconcile', a.autoReconcile);
  return { flags, positionals: [] };
}

/**
 * watch_commit: `flux-monitor watch --json` in the server, to the verdict. The result is the JSON array of the
 * events `--json` prints (or of the summary alone); each phase change (and each cluster error) is also sent as a
 * progress notification when the client asked for progress. Cancelling the call stops the watch.
 */
export async function watchCommit(ctx: McpContext, a: WatchCommitArgs, call: ToolCall, base = ctx.repo ?? ctx.io.cwd): Promise<CallToolResult> {
  const io = { ...ctx.io, cwd: a.repo ? resolve(base, a.repo) : base };
  // A relative kubeconfig is relative to the repository, as for `watch` run there.
  const run = await prepareWatch(io, watchFlags({ ...a, kubeconfig: a.kubeconfig && resolve(io.cwd, a.kubeconfig) }));
  const lines: Array<{ type: MonitorEvent['type']; cluster?: string; json: string }> = [];
  let latest: SessionState | undefined;
  const progress = new Progress(call, ctx.heartbeatMs, () => latest && stateLine(latest));
  const ac = new AbortController();
  const stop = () => ac.abort('stopped');
  if (call.signal.aborted) stop();
  call.signal.addEventListener('abort', stop, { once: true });
  try {
    const final = await runMonitor({
      ...run,
      signal: ac.signal,
      onState: (s) => (latest = s),
      onEvent: (e) => {
        lines.push({ type: e.type, cluster: e.cluster, json: JSON.stringify(e) });
        const line = eventLine(e);
        if (line) progress.send(line);
      },
    });
    if (final.verdict === 'error' && final.verdictMessage) log(ctx, `watch_commit: ${final.verdictMessage}`);
  } finally {
    call.signal.removeEventListener('abort', stop);
    await progress.close();
  }
  // With several clusters, each cluster's summary has `cluster`; the overall one (last) does not.
  const shown = a.output === 'summary' ? lines.filter((l) => l.type === 'summary' && !l.cluster) : lines;
  return text(`[${shown.map((l) => l.json).join(',')}]`);
}

/**
 * get_session: `flux-monitor status [ID] --json`: the stored session plus `liveness`, or `{"session": null,
 * "message"}` when there is none. With `wait`, follows the session (as `status --json --follow`) and returns its
 * last state; each update is sent as a progress notification.
 */
export async function getSession(ctx: McpContext, a: GetSessionArgs, call: ToolCall, base = ctx.repo ?? ctx.io.cwd): Promise<CallToolResult> {
  const paths = statePaths(ctx.io.env);
  const picked = await pickSession({ ...ctx.io, cwd: base }, paths, a.id, a.repo === undefined ? undefined : resolve(base, a.repo));
  if ('code' in picked) return json({ session: null, message: picked.message } satisfies NoSessionJson);
  const doc = (s: StoredSession, live: Liveness): StatusJson => ({ ...s, liveness: live });
  if (!a.wait) return json(doc(picked.session, liveness(picked.session)));

  let last = doc(picked.session, liveness(picked.session));
  let lastLine: string | undefined;
  let failed: Error | undefined;
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
export async function listHistory(ctx: McpContext, a: ListHistoryArgs, base = ctx.repo ?? ctx.io.cwd): Promise<CallToolResult> {
  const repo = a.all ? undefined : (await gitInfo(a.repo === undefined ? base : resolve(base, a.repo)))?.root;
  return json(historyRows(ctx.io, { repo, limit: a.limit ?? 20 }));
}

// ---- the server -----------------------------------------------------------------------------------------------

/** An MCP server with the three tools. `running` holds the tool calls under way (the server waits for them). */
export function createMcpServer(ctx: McpContext): { server: McpServer; running: Set<Promise<unknown>> } {
  const server = new McpServer(
    { name: 'flux-monitor', version: packageVersion() },
    {
      instructions:
        'flux-monitor follows a pushed git commit through Flux CD (sources, Kustomizations, HelmReleases, dependsOn) to a verdict. ' +
        'After a `git push`, the git hook starts a monitor: call get_session (wait: true to wait for its verdict). ' +
        'watch_commit follows a commit in this server, to its verdict. list_history lists past sessions. ' +
        'Results are the JSON the CLI prints with --json (docs/json-events.md).',
    },
  );
  const running = new Set<Promise<unknown>>();

  // The default repository: --repo, else the client's workspace (its first file:// root), else the working directory.
  let roots: Promise<string | undefined> | undefined;
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, () => void (roots = undefined));
  const base = async (): Promise<string> => {
    if (ctx.repo) return ctx.repo;
    if (!server.server.getClientCapabilities()?.roots) return ctx.io.cwd;
    roots ??= server.server.listRoots(undefined, { timeout: 5000 }).then(
      (r) => {
        const root = r.roots.find((x) => x.uri.startsWith('file://'));
        return root ? fileURLToPath(root.uri) : undefined;
      },
      (err: Error) => {
        log(ctx, `could not list the client's roots (${err.message}); using ${ctx.io.cwd}`);
        return undefined;
      },
    );
    return (await roots) ?? ctx.io.cwd;
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
        'Runs until the verdict or the timeout (default 300 s); phase changes are sent as progress notifications when a progress token is given.',
      inputSchema: WATCH_COMMIT_ARGS,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    (args, extra) => handle('watch_commit', async () => watchCommit(ctx, args, toolCall(extra), await base())),
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
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) => handle('get_session', async () => getSession(ctx, args, toolCall(extra), await base())),
  );
  server.registerTool(
    'list_history',
    {
      title: 'List past monitoring sessions',
      description:
        'Past monitoring sessions of the repository (all: every repository), newest first, as `flux-monitor history --json` prints them: ' +
        'a JSON array of {id, repo, commit, startedAt, endedAt, durationMs, verdict, verdictMessage, counts, liveness}; running and dead sessions have no verdict.',
      inputSchema: LIST_HISTORY_ARGS,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) => handle('list_history', async () => listHistory(ctx, args, await base())),
  );
  return { server, running };
}

/**
 * Serves MCP on io.stdin/io.stdout until the client goes away (stdin ends) or a signal ends the process; tool
 * calls under way are cancelled (a watch ends as `stopped`) and awaited. Nothing but protocol is written to
 * stdout: console output is sent to stderr meanwhile.
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
    log(ctx, `serving the Model Context Protocol on stdio (repository: ${ctx.repo ?? `the client's workspace root, else ${io.cwd}`})`);
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

const mcp: Command = {
  name: 'mcp',
  summary: 'Serve the Model Context Protocol over stdio for agents (tools watch_commit, get_session, list_history)',
  usage: 'flux-monitor mcp [--repo PATH]',
  async run(argv, io) {
    const p = parseArgs(argv, { repo: { value: true } });
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const repo = str(p, 'repo');
    return serveStdio({ io, repo: repo ? resolve(io.cwd, repo) : undefined });
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

/** Sends console.log/info/debug to stderr (stdout carries the protocol); returns the restore function. */
function consoleToStderr(stderr: { write(s: string): unknown }): () => void {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  const toStderr = (...args: unknown[]) => void stderr.write(format(...args) + '\n');
  console.log = console.info = console.debug = toStderr;
  return () => Object.assign(console, saved);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
