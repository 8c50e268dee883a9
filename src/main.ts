/**
 * Process entry: parse argv, run one command, set the exit code.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid config (CONTRACT §2).
 */
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config/load.js';
import { isStoregateError } from './core/errors.js';
import { createLogger } from './telemetry/logger.js';
import { Gateway } from './gateway.js';
import { VERSION, gitCommit } from './version.js';
import { signingKeys, terminalKey } from './cli/keys.js';
import { statusCommand } from './cli/status.js';
import { journalCommand } from './cli/journal.js';
import { daemonUrl } from './cli/daemon-client.js';
import { pushCommand } from './cli/push.js';

const USAGE = `usage: storegate [command] [options]
  run [--config FILE]                 start the daemon (default command)
  status [--url URL] [--json]         print the running daemon's /status
  journal stats|list|dead|flush       journal depth, entries, dead letters; flush now (asks the daemon)
  journal retry [SEQ...] [--force]    send dead letters again (all, or those named)
  journal discard SEQ --reason TEXT [--by NAME]
                                      give one dead letter up (audited)
  keys terminal ID                    new terminal token (and the config line with its hash)
  keys signing [--out FILE]           new Ed25519 key pair for head office: private key to FILE (0600), public key printed
  push KIND FILE --key PEM --store ID|* [--mqtt URL] [--version N] [--timeout SEC]
                                      sign a config/rules/prices/coupons/loyalty push, publish it, wait for the acks
  version                             version, git commit, Node.js version
config: --config FILE, else $STOREGATE_CONFIG, else /etc/storegate/config.json, else built-in defaults`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      out: { type: 'string' },
      key: { type: 'string' },
      mqtt: { type: 'string' },
      store: { type: 'string' },
      version: { type: 'string' },
      timeout: { type: 'string' },
      'topic-prefix': { type: 'string', default: 'storegate' },
      ca: { type: 'string' },
      expect: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const [command = 'run', ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  switch (command) {
    case 'run':
      return run(values.config);
    case 'version':
      console.log(`storegate ${VERSION} (commit ${gitCommit()}) on Node.js ${process.version}`);
      return 0;
    case 'keys':
      if (rest[0] === 'terminal' && rest[1]) return print(terminalKey(rest[1]));
      if (rest[0] === 'signing') {
        try {
          return print(signingKeys(values.out ?? 'storegate-signing.pem'));
        } catch (err) {
          console.error((err as Error).message);
          return 1;
        }
      }
      console.error('usage: storegate keys terminal ID | storegate keys signing');
      return 2;
    case 'push':
      return pushCommand({
        kind: rest[0],
        file: rest[1],
        key: values.key,
        mqtt: values.mqtt,
        store: values.store,
        version: values.version,
        timeoutSec: values.timeout,
        topicPrefix: values['topic-prefix'],
        ca: values.ca,
        expect: values.expect,
        out: (l) => console.log(l),
        err: (l) => console.error(l),
      });
    case 'status': {
      const { config } = await loadConfig({ configPath: values.config });
      return statusCommand({ url: daemonUrl(config, values.url), adminToken: config.adminToken, json: values.json });
    }
    case 'journal': {
      const { config } = await loadConfig({ configPath: values.config });
      return journalCommand(rest[0], {
        url: daemonUrl(config, values.url),
        adminToken: config.adminToken,
        json: values.json,
        args: rest.slice(1),
        force: values.force,
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
        ...(values.by !== undefined ? { by: values.by } : {}),
      });
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

async function run(configPath: string | undefined): Promise<number> {
  const loaded = await loadConfig({ configPath });
  const log = createLogger(loaded.config.log.level);
  const gateway = new Gateway({ loaded, log });
  // A failed start rejects here (the gateway has already released what it opened) and main() exits non-zero.
  // The shutdown handler is installed only once the gateway runs: close-with-grace also acts on `beforeExit`
  // and would turn a failed start into exit 0.
  await gateway.start();
  // SIGTERM/SIGINT: stop taking requests, drain in-flight ones, then exit 0 (CONTRACT §1).
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'fatal error, shutting down');
    else log.info({ signal }, 'shutting down');
    await gateway.stop();
    log.flush();
  });
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (isStoregateError(err) && err.code === 'SG_ERR_CONFIG_INVALID') {
      console.error(err.message);
      process.exitCode = 2;
      return;
    }
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`${(err as Error).message}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    if (isStoregateError(err)) {
      // One line a technician (and journald) can act on: the stable code, then what is wrong.
      console.error(`${err.code}: ${err.message}`);
      process.exitCode = err.code === 'SG_ERR_DATA_INVALID' ? 2 : 1;
      return;
    }
    console.error(err);
    process.exitCode = 1;
  },
);
