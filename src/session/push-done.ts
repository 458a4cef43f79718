// `flux-monitor hook push-done <intent>`: runs (detached, logging to hooks.log) once the `git push` that wrote
// the intent has exited. It decides which branch and tag updates reached the remote, applies the hook
// configuration, the watched branches and the tags GitRepositories follow, and starts one detached monitor per
// pushed branch or followed tag.
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrl, sameRepo } from '../core/giturl.js';
import { firstLine, sanitizeText } from '../core/sanitize.js';
import type { ConfigError } from '../config/load.js';
import { branchMatches, decidePushed, parseConfirmations, parseIntent, type Confirmation, type PushDecision, type PushIntent } from '../git/intent.js';
import { absoluteRemote, commitInfo, gitCommonDir, lsRemote, remoteSettings, repoRoot, resolveRef, trackingRef, type RemoteSettings } from '../git/repo.js';
import { NO_REPOSITORY, plainRepository, type PlainRepository } from '../git/discover.js';
import { matchSources, objectKey } from '../core/graph.js';
import { newSessionState, type KubeObject, type MonitorConfig } from '../core/types.js';
import { gitRepositoriesOf, resolveWatchedBranches, watchedTagPatterns, writeWatchedCache } from './branches.js';
import type { StatePaths } from './paths.js';
import type { PushOutcome } from './pending.js';
import { closeInheritedFds, spawnDetached } from './spawn.js';
import { newSessionId } from '../core/ids.js';
import { appendHistory, historyEntry, sessionFile, sessionLogFile, writeJsonAtomic, writeJsonIfAbsent, type StoredSession } from './store.js';
import { processStartToken } from './proc.js';

/** Intents older than this are leftovers (a helper that never ran): removed, never acted on. */
export const INTENT_MAX_AGE_MS = 24 * 3600_000;

export interface PushDoneOptions {
  intentFile: string;
  paths: StatePaths;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Starts a detached monitor; default spawns `flux-monitor run-session`. Returns its pid. */
  startMonitor?: (args: string[], logFile: string, cwd: string) => Promise<number>;
}

/**
 * The git reads push-done needs, each run at most once: started together as soon as the intent is read (they
 * read the local repository only), awaited when the decision needs them; the configuration's reader loads
 * meanwhile (docs/performance.md (i)).
 */
class RepoReads {
  private readonly memo = new Map<string, Promise<unknown>>();
  /** The repository as read from the file system (git/discover.ts), when it is a plain one: no git process. */
  private readonly plain: PlainRepository | undefined;
  constructor(
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const found = plainRepository(dir, env);
    this.plain = found === NO_REPOSITORY ? undefined : found;
  }

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read();
      p.catch(() => undefined); // read ahead: a failure is seen by whoever awaits it, never unhandled
      this.memo.set(key, p);
    }
    return p;
  }

  /** The work tree's top (a bare repository's directory); the intent's directory when git cannot tell. */
  root(): Promise<string> {
    return this.once('root', async () => this.plain?.root ?? repoRoot(this.dir).catch(() => this.dir));
  }
  commonDir(): Promise<string | undefined> {
    return this.once('common', async () => this.plain?.commonDir ?? gitCommonDir(await this.root()).catch(() => undefined));
  }
  /** A remote's URL and fetch refspecs: one git process. */
  private remote(name: string): Promise<RemoteSettings> {
    return this.once(`remote ${name}`, () => remoteSettings(this.dir, name));
  }
  async remoteUrl(name: string): Promise<string | undefined> {
    return (await this.remote(name)).url;
  }
  async fetchRefspecs(name: string): Promise<string[]> {
    return (await this.remote(name)).fetch;
  }
  subject(sha: string): Promise<string | undefined> {
    return this.once(`subject ${sha}`, async () => commitInfo(await this.root(), sha, { env: this.env }).then((c) => c.subject, () => undefined));
  }

  /** The configuration's reader (and the YAML parser under it): loaded while the git processes run. */
  config(): Promise<typeof import('../config/load.js')> {
    return this.once('config module', () => import('../config/load.js'));
  }

  /** Starts the reads every push needs. */
  readAhead(intent: PushIntent): void {
    void this.commonDir();
    if (intent.remote !== intent.url) void this.remote(intent.remote);
    for (const r of intent.refs) if (r.remoteRef.startsWith('refs/heads/') && /[1-9a-f]/.test(r.localSha)) void this.subject(r.localSha);
    void this.config();
  }
}

export interface StartedMonitor {
  sessionId: string;
  /** The pushed branch; empty for a tag push. */
  branch: string;
  /** The pushed tag, for a tag push. */
  tag?: string;
  /** The commit followed (for an annotated tag, the commit it points to). */
  sha: string;
  pid: number;
}

/**
 * What the hook helper hands over in its environment, removed from `env` once read: the descriptors to close
 * (FLUX_MONITOR_CLOSE_FDS, set, even empty, only by the helper) and, for a push to a URL, that URL as typed
 * (FLUX_MONITOR_PUSH_URL), credentials included, which `git ls-remote` may need. It is used for nothing else: the
 * intent file, the logs and the monitor's command line only ever see the URL redacted.
 */
function takeHandover(env: NodeJS.ProcessEnv): { pushUrl?: string; closedFds: number[] } {
  const fromHook = env.FLUX_MONITOR_CLOSE_FDS !== undefined;
  const pushUrl = env.FLUX_MONITOR_PUSH_URL || undefined;
  delete env.FLUX_MONITOR_PUSH_URL;
  // Only in the hook helper: a test (or any other caller) runs this inside a process whose descriptors are its own.
  const closedFds = fromHook ? closeInheritedFds(env) : [];
  return { ...(pushUrl ? { pushUrl } : {}), closedFds };
}

export async function handlePushDone(o: PushDoneOptions): Promise<{ decisions: PushDecision[]; started: StartedMonitor[] }> {
  const handover = takeHandover(o.env);
  // Every line of hooks.log goes through the sanitiser: git's and the cluster's messages may carry credentials or
  // terminal escapes.
  const write = o.log;
  const log = (line: string) => write(sanitizeText(line, { maxLength: 16_384 }));
  if (handover.closedFds.length) log(`closed inherited file descriptors ${handover.closedFds.join(' ')}`);
  o = { ...o, log };
  let text: string;
  let confirmedText = '';
  let pushedAt: number;
  try {
    text = readFileSync(o.intentFile, 'utf8');
    pushedAt = statSync(o.intentFile).mtimeMs;
  } catch (err) {
    log(`intent ${o.intentFile}: ${(err as Error).message}`);
    return { decisions: [], started: [] };
  }
  let intent: PushIntent | undefined;
  let invalid: unknown;
  try {
    intent = parseIntent(text);
  } catch (err) {
    invalid = err;
  }
  const reads = intent ? new RepoReads(intent.dir, o.env) : undefined;
  if (intent && reads && Date.now() - pushedAt <= INTENT_MAX_AGE_MS) reads.readAhead(intent);
  try {
    confirmedText = readFileSync(o.intentFile + '.confirmed', 'utf8');
  } catch {
    /* nothing confirmed by reference-transaction */
  }
  pruneStaleIntents(o.paths);

  if (Date.now() - pushedAt > INTENT_MAX_AGE_MS) {
    log(`intent ${o.intentFile} is stale; ignored`);
    removeQuietly(o.intentFile);
    removeQuietly(o.intentFile + '.confirmed');
    return { decisions: [], started: [] };
  }
  // The intent stays until the outcome is written: until then it tells `status` that this push is the newest
  // and is being decided (src/session/pending.ts), so status never shows the previous push meanwhile.
  const outcome: PushOutcome['refs'] = [];
  try {
    if (!intent || !reads) throw invalid;
    const result = await decideAndStart(o, intent, reads, parseConfirmations(confirmedText), pushedAt, handover.pushUrl, outcome);
    log(`done ${intent.refs.map((r) => r.localSha.slice(0, 12)).join(',')}: ${result.started.length} monitor(s) started`);
    return result;
  } finally {
    if (intent && reads && outcome.length) writeOutcome(o.intentFile + '.outcome', { schema: 1, dir: await reads.root(), pushedAt, refs: outcome });
    removeQuietly(o.intentFile);
    removeQuietly(o.intentFile + '.confirmed');
  }
}

/** push-done's decision per pushed ref, for `status` right after the push (intents/<pid>.outcome, 0600). */
function writeOutcome(file: string, o: PushOutcome): void {
  try {
    writeFileSync(file, JSON.stringify(o) + '\n', { mode: 0o600 });
  } catch {
    /* status then waits for the session or its bound, as with older hooks */
  }
}

async function decideAndStart(
  o: PushDoneOptions,
  intent: PushIntent,
  reads: RepoReads,
  confirmations: Confirmation[],
  pushedAt: number,
  pushUrl: string | undefined,
  outcome: PushOutcome['refs'],
): Promise<{ decisions: PushDecision[]; started: StartedMonitor[] }> {
  const { log } = o;
  const where = (d: PushDecision) => (d.tag ? { tag: d.tag } : d.branch ? { branch: d.branch } : {});
  const skip = (d: PushDecision, sha: string, reason: string) => outcome.push({ sha, ...where(d), followed: false, reason: sanitizeText(reason, { maxLength: 300 }) });
  const url = absoluteRemote(intent.url, intent.dir);
  // A push to a URL is confirmed against the URL as typed (credentials included), which only the helper's
  // environment holds; the intent's is redacted. A named remote is asked by its name: git reads its URL.
  const byUrl = intent.remote === intent.url;
  const handed = pushUrl !== undefined && (redactUrl(pushUrl) === intent.url || sameRepo(pushUrl, intent.url));
  const lsRemoteTarget = (remote: string) => (byUrl && handed && remote === intent.remote ? pushUrl! : remote);
  const decisions = await decidePushed(intent, confirmations, {
    remoteUrl: (name) => reads.remoteUrl(name),
    trackingRef: async (name, ref) => trackingRef(await reads.fetchRefspecs(name), ref),
    lsRemote: (remote, ref) => lsRemote(intent.dir, lsRemoteTarget(remote), ref, { env: o.env }),
  });
  for (const d of decisions) log(`push ${d.branch || d.ref.remoteRef} ${d.ref.localSha.slice(0, 12)}: ${d.pushed ? 'confirmed' : 'not pushed'} (${d.reason})`);
  for (const d of decisions) if (!d.pushed && (d.branch || d.tag)) skip(d, d.ref.localSha, `it did not reach the remote (${d.reason})`);
  const pushed = decisions.filter((d) => d.pushed);
  if (!pushed.length) return { decisions, started: [] };

  // A bare repository pushes too: root is then its directory.
  const root = await reads.root();
  const commonDir = await reads.commonDir();
  const remote = intent.remote === intent.url ? undefined : intent.remote;

  // What each confirmed update asks to follow: a branch at the pushed commit, or a tag at the commit it names
  // (an annotated tag's pushed object is the tag object: its commit is `<tag>^{commit}`).
  const wanted: Array<{ d: PushDecision; sha: string }> = [];
  for (const d of pushed) {
    if (!d.tag) {
      wanted.push({ d, sha: d.ref.localSha });
      continue;
    }
    const sha = await resolveRef(root, d.ref.localSha, { env: o.env });
    if (sha) wanted.push({ d, sha });
    else {
      log(`tag ${d.tag} does not point to a commit here; left alone`);
      skip(d, d.ref.localSha, `tag ${d.tag} does not point to a commit`);
    }
  }
  if (!wanted.length) return { decisions, started: [] };
  // The commits' subjects, for the sessions' first states: asked now, while the configuration is read.
  const subjects = new Map(wanted.map((w) => [w.sha, reads.subject(w.sha)]));

  const { ConfigError, loadConfig } = await reads.config();
  let loaded;
  try {
    loaded = loadConfig(root);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Nobody sees this log: make the problem visible to `flux-monitor status` as a failed session.
    log(err.message);
    const id = newSessionId();
    recordConfigError(o.paths, wanted[0]!, { root, remote, url, pushedAt }, err, id);
    outcome.push({ sha: wanted[0]!.sha, ...where(wanted[0]!.d), followed: true, sessionId: id });
    return { decisions, started: [] };
  }
  if (!loaded.enabled) {
    log(`${loaded.path}: enabled: false; no monitor started`);
    for (const w of wanted) skip(w.d, w.sha, `monitoring is disabled in ${loaded.path} (enabled: false)`);
    if (commonDir) {
      writeWatchedCache(commonDir, []);
      writeWatchedCache(commonDir, [], 'watched-tags');
    }
    return { decisions, started: [] };
  }
  const sources = gitRepositoriesOf(loaded.config, url, { env: o.env });
  const tags = wanted.some((w) => w.d.tag);
  const watched = await resolveWatchedBranches(loaded.config, url, { env: o.env }, sources);
  log(`watched branches: ${watched.patterns.join(', ')} (${watched.source}: ${watched.detail})`);
  if (commonDir) writeWatchedCache(commonDir, watched.patterns);
  // A tag starts a monitor only when a GitRepository of this repository is seen to follow it. The cluster is
  // asked for tag pushes, or when it was asked already for the branches (then only the hint cache is updated).
  let followed: Map<string, KubeObject> | undefined;
  if (tags || watched.source !== 'config') {
    try {
      const list = await sources();
      followed = new Map(list.flatMap((r) => (objectKey(r) ? [[objectKey(r)!, r] as const] : [])));
      if (commonDir) writeWatchedCache(commonDir, watchedTagPatterns(list), 'watched-tags');
    } catch (err) {
      if (tags) log(`cannot tell which tags Flux follows: cannot list GitRepositories: ${firstLine(err, { maxLength: 500 })}`);
      if (commonDir) writeWatchedCache(commonDir, [], 'watched-tags');
    }
  }

  const start = o.startMonitor ?? ((args, logFile, cwd) => spawnDetached(args, { logFile, cwd, env: o.env }));
  const started: StartedMonitor[] = [];
  for (const { d, sha } of wanted) {
    if (d.tag) {
      const followers = followed ? matchSources(followed, { repoUrl: url, tag: d.tag }) : [];
      if (!followers.length) {
        const why = `tag ${d.tag} is ${followed ? 'followed by no GitRepository of this repository' : 'not known to be followed by Flux'}`;
        log(`${why}; left alone`);
        skip(d, sha, why);
        continue;
      }
      log(`tag ${d.tag} is followed by ${followers.join(', ')}`);
    } else if (!branchMatches(d.branch, watched.patterns)) {
      log(`branch ${d.branch} is not watched by Flux; left alone`);
      skip(d, sha, `branch ${d.branch} is not watched by Flux (watched: ${watched.patterns.join(', ') || 'none'})`);
      continue;
    }
    const what = d.tag ? `tag ${d.tag}` : d.branch;
    const sessionId = newSessionId();
    const args = ['run-session', '--id', sessionId, '--repo', root, ...(d.tag ? ['--tag', d.tag] : ['--branch', d.branch]), '--sha', sha, '--pushed-at', String(Math.round(pushedAt))];
    if (remote) args.push('--remote', remote);
    args.push('--url', redactUrl(url)); // never put credentials on a command line
    try {
      const pid = await start(args, sessionLogFile(o.paths, sessionId), root);
      recordStarting(o.paths, { id: sessionId, root, url, remote, d, sha, subject: await subjects.get(sha), pushedAt, pid, config: loaded.config }, log);
      log(`started monitor ${sessionId} (pid ${pid}) for ${what}@${sha.slice(0, 12)}`);
      started.push({ sessionId, branch: d.branch, ...(d.tag ? { tag: d.tag } : {}), sha, pid });
      outcome.push({ sha, ...where(d), followed: true, sessionId });
    } catch (err) {
      log(`cannot start the monitor for ${what}: ${firstLine(err, { maxLength: 500 })}`);
      skip(d, sha, `its monitor could not be started: ${firstLine(err, { maxLength: 200 })}`);
    }
  }
  return { decisions, started };
}

/**
 * The session's first state, written as soon as its monitor is spawned, so that `status` has it without waiting
 * for the monitor's own start (a second Node process, git, the configuration: docs/performance.md (i)): starting,
 * owned by the monitor's pid and its start-time token, as the monitor itself would write it. Written only if the monitor has not written the file yet: from then on the file is the
 * monitor's alone. A monitor that dies before it writes leaves a session whose pid is gone: `dead`, never running
 * (store.ts liveness).
 */
function recordStarting(
  paths: StatePaths,
  c: { id: string; root: string; url: string; remote?: string; d: PushDecision; sha: string; subject?: string; pushedAt: number; pid: number; config: MonitorConfig },
  log: (line: string) => void,
): void {
  const state = newSessionState(
    { id: c.id, sha: c.sha, subject: c.subject === undefined ? undefined : sanitizeText(c.subject, { maxLength: 200 }), tag: c.d.tag, repoPath: c.root, repoUrl: c.url, remote: c.remote, branch: c.d.branch || undefined, timeoutMs: c.config.timeout * 1000, now: Date.now() },
    redactUrl,
  );
  const s: StoredSession = { ...state, pid: c.pid, pidStart: processStartToken(c.pid), pushedAt: Math.round(c.pushedAt), logPath: sessionLogFile(paths, c.id), config: c.config };
  try {
    writeJsonIfAbsent(sessionFile(paths, c.id), s);
  } catch (err) {
    log(`cannot write the first state of session ${c.id}: ${(err as Error).message}`); // the monitor writes it
  }
}

function recordConfigError(paths: StatePaths, w: { d: PushDecision; sha: string }, ctx: { root: string; remote?: string; url: string; pushedAt: number }, err: ConfigError, id: string): void {
  const now = Date.now();
  const s: StoredSession = {
    schema: 1,
    id,
    repo: { path: ctx.root, url: redactUrl(ctx.url), remote: ctx.remote, branch: w.d.branch || undefined },
    commit: { sha: w.sha, tag: w.d.tag },
    cluster: {},
    startedAt: now,
    updatedAt: now,
    endedAt: now,
    timeoutMs: 0,
    status: 'finished',
    verdict: 'error',
    verdictMessage: err.message.split('\n')[0],
    nodes: {},
    edges: [],
    cycles: [],
    matchedSources: [],
    warnings: [],
    error: { category: 'config', message: err.message, hint: err.hint },
    pushedAt: ctx.pushedAt,
  };
  writeJsonAtomic(sessionFile(paths, id), s);
  appendHistory(paths, historyEntry(s));
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* absent */
  }
}

/** Removes intents left behind by helpers that never ran (machine rebooted mid-push...). */
function pruneStaleIntents(paths: StatePaths): void {
  let names: string[];
  try {
    names = readdirSync(paths.intents);
  } catch {
    return;
  }
  const now = Date.now();
  for (const n of names) {
    const f = join(paths.intents, n);
    try {
      if (now - statSync(f).mtimeMs > INTENT_MAX_AGE_MS) unlinkSync(f);
    } catch {
      /* raced with another helper */
    }
  }
}
