// The contract between src/cli.ts and the files in src/commands/ (one file per command, as in the flux CLI).

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Hidden commands are internal (used by the git hooks and the detached monitor). */
  hidden?: boolean;
  run(argv: string[], io: CommandIO): Promise<number>;
}
