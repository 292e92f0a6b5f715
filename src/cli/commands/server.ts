import { startServer } from '../../api/index.js';
import { loadConfig } from '../../core/index.js';
import { printJson, type CliIo, type GlobalOptions } from '../io.js';

/** `assay server`: runs until SIGINT/SIGTERM, then shuts down cleanly and resolves. */
export async function runServer(io: CliIo, opts: GlobalOptions & { port?: number; host?: string }): Promise<number> {
  const config = loadConfig({
    env: io.env,
    cwd: io.cwd,
    overrides: {
      ...(opts.home ? { home: opts.home } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.host ? { host: opts.host } : {}),
    },
  });
  const server = await startServer({ config });
  if (opts.json) printJson(io, server.info);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
