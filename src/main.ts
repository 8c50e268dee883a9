/**
 * Process entry: parse argv, run one command, set the exit code.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid config (README "Commands").
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config/load.js';
import { isStoregateError } from './core/errors.js';
import { createLogger } from './telemetry/logger.js';
import { Gateway } from './gateway/gateway.js';
import { VERSION, gitCommit } from './version.js';
import { SystemdNotifier } from './platform/sd-notify.js';
import { setNativeCacheDir } from './platform/native-addon.js';
import { startIdleHeapNudge } from './platform/idle-heap.js';
import { startMemoryTrim } from './platform/memory-trim.js';
import { applyHeapGrowth } from './platform/heap-growth.js';

// Every command but `run` is imported by its own case below: the daemon's start then never loads what only the
// CLI needs (MQTT.js for push and doctor, the X.509 code for keys tls, head office).

const USAGE = `usage: storegate [command] [options]
  run [--config FILE]                 start the daemon (default command)
  doctor [--json]                     check config, data dir, disk, daemon, Talon.One, clock, broker, scanners
  status [--url URL] [--json]         print the running daemon's /status
  journal stats|list|dead|flush       journal depth, entries (list --limit N), dead letters; flush now (asks the daemon)
  journal retry [SEQ...] [--force]    send dead letters again (all, or those named)
  journal discard SEQ --reason TEXT [--by NAME]
                                      give one dead letter up (audited)
  keys terminal ID                    new terminal token (and the config line with its hash)
  keys signing [--out FILE]           new Ed25519 key pair for head office: private key to FILE (0600), public key printed
  keys tls --names NAME,ADDR,… [--client ID] [--out DIR] [--days N]
                                      HTTPS files: store CA (made once), server certificate for these names, client certificates
  push KIND FILE --key PEM --store ID|* [--mqtt URL] [--version N] [--timeout SEC]
                                      sign a config/rules/prices/coupons/loyalty/catalog/collections push, publish it, wait for the acks
  explain SESSION_ID [--now TIME] [--json]
                                      why campaigns did or did not apply to a session's last evaluation (asks the daemon)
  headoffice [run] --config FILE      head office: pull Talon.One, push signed data to the shops, watch the fleet
  headoffice status [--url URL] [--json] --config FILE
                                      the fleet: each shop, lagging or refusing ones first
  version [--verbose]                 version, git commit, Node.js version (--verbose: runtime checks)
  schema                              the config file's JSON Schema
config: --config FILE, else $STOREGATE_CONFIG, else /etc/storegate/config.json, else built-in defaults
(status, journal and doctor read it as run does: give them the same --config as the daemon); --json: JSON out`;

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
      verbose: { type: 'boolean', default: false },
      limit: { type: 'string' },
      now: { type: 'string' },
      names: { type: 'string' },
      client: { type: 'string' },
      days: { type: 'string' },
    },
  });
  const [command = 'run', ...rest] = positionals;
  if (values.help) {
    // `storegate doctor --help` answers 0 only where doctor exists (the installer asks it that way).
    if (!COMMANDS.has(command)) return unknownCommand(command);
    console.log(USAGE);
    return 0;
  }
  switch (command) {
    case 'run':
      return run(values.config);
    case 'version': {
      const checks = values.verbose ? await (await import('./cli/runtime-info.js')).runtimeChecks() : [];
      const ok = checks.every((c) => c.ok);
      if (values.json) {
        console.log(JSON.stringify({ version: VERSION, commit: gitCommit(), node: process.version, ...(values.verbose ? { checks } : {}) }, null, 2));
        return ok ? 0 : 1;
      }
      console.log(`storegate ${VERSION} (commit ${gitCommit()}) on Node.js ${process.version}`);
      for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
      return ok ? 0 : 1;
    }
    case 'doctor':
      return (await import('./cli/doctor.js')).doctorCommand({ configPath: values.config, json: values.json });
    case 'schema': {
      const schema = await import('../config/schema.json', { with: { type: 'json' } });
      console.log(JSON.stringify(schema.default, null, 2));
      return 0;
    }
    case 'keys': {
      const { signingKeys, terminalKey } = await import('./cli/keys.js');
      if (rest[0] === 'terminal' && rest[1]) {
        try {
          return print(terminalKey(rest[1], values.json));
        } catch (err) {
          console.error((err as Error).message);
          return 2;
        }
      }
      if (rest[0] === 'signing') {
        try {
          return print(signingKeys(values.out ?? 'storegate-signing.pem'));
        } catch (err) {
          console.error((err as Error).message);
          return 1;
        }
      }
      if (rest[0] === 'tls') {
        const { keysTlsCommand, UsageError } = await import('./cli/keys-tls.js');
        try {
          return await keysTlsCommand({ names: values.names, client: values.client, out: values.out, days: values.days, json: values.json }, (t) => process.stdout.write(t));
        } catch (err) {
          console.error((err as Error).message);
          return err instanceof UsageError ? 2 : 1;
        }
      }
      console.error('usage: storegate keys terminal ID | storegate keys signing | storegate keys tls --names NAME,…');
      return 2;
    }
    case 'push':
      return (await import('./cli/push.js')).pushCommand({
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
      const { config, source } = await loadConfig({ configPath: values.config });
      const { daemonTarget } = await import('./cli/daemon-client.js');
      return (await import('./cli/status.js')).statusCommand({ url: daemonTarget(config, values.url), adminToken: config.adminToken, json: values.json, configSource: source });
    }
    case 'explain': {
      const { config, source } = await loadConfig({ configPath: values.config });
      const { daemonTarget } = await import('./cli/daemon-client.js');
      return (await import('./cli/explain.js')).explainCommand({ url: daemonTarget(config, values.url), adminToken: config.adminToken, json: values.json, sessionId: rest[0], ...(values.now !== undefined ? { now: values.now } : {}), configSource: source, out: (l) => console.log(l), err: (l) => console.error(l) });
    }
    case 'journal': {
      const { config, source } = await loadConfig({ configPath: values.config });
      const { daemonTarget } = await import('./cli/daemon-client.js');
      return (await import('./cli/journal.js')).journalCommand(rest[0], {
        url: daemonTarget(config, values.url),
        adminToken: config.adminToken,
        json: values.json,
        configSource: source,
        ...(values.limit !== undefined ? { limit: Number(values.limit) } : {}),
        args: rest.slice(1),
        force: values.force,
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
        ...(values.by !== undefined ? { by: values.by } : {}),
      });
    }
    case 'headoffice':
      return (await import('./headoffice/cli.js')).headofficeCommand({ args: rest, config: values.config, url: values.url, json: values.json, out: (l) => console.log(l), err: (l) => console.error(l) });
    default:
      return unknownCommand(command);
  }
}

const COMMANDS = new Set(['run', 'doctor', 'version', 'schema', 'keys', 'push', 'status', 'journal', 'headoffice', 'explain']);

function unknownCommand(command: string): number {
  console.error(`unknown command "${command}"\n${USAGE}`);
  return 2;
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

/**
 * Past the drain, the rest of a stop (flusher, state snapshot, journal sync) gets this long; then the process
 * exits 1 with a JSON log line. Nothing acknowledged is lost either way: the journal is crash-safe.
 */
const STOP_AFTER_DRAIN_MS = 30_000;

const mib = (bytes: number): number => Math.round(bytes / 1048576);

async function run(configPath: string | undefined): Promise<number> {
  // The slow heap growth the daemon is tuned for, from now on: the modules are loaded (src/platform/heap-growth.ts;
  // on the command line it would cost every start ~100 ms).
  applyHeapGrowth();
  const loaded = await loadConfig({ configPath });
  const log = createLogger(loaded.config.log.level);
  // Node's own warnings (a dependency's deprecated call, e.g. MQTT.js's url.parse on Node 24) go to the JSON log,
  // not as a bare text line on stderr: journald and log shippers get JSON only.
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => log.warn({ mod: 'node', warning: { name: w.name, code: w.code, message: w.message } }, 'Node.js warning'));
  // The single binary writes its serial addon into the data dir (src/platform/native-addon.ts), nowhere else.
  setNativeCacheDir(path.join(loaded.config.dataDir, 'native'));
  const systemd = new SystemdNotifier({ env: process.env, log: log.child({ mod: 'systemd' }) });
  const gateway = new Gateway({ loaded, log });
  // A failed start rejects here (the gateway has already released what it opened) and main() exits non-zero.
  // The shutdown handler is installed only once the gateway runs: close-with-grace also acts on `beforeExit`
  // and would turn a failed start into exit 0.
  const url = await gateway.start();
  // V8's memory reducer gives an idle daemon's heap back (src/platform/idle-heap.ts).
  const idleHeap = startIdleHeapNudge();
  // After a busy spell, V8's pooled pages go back to the system (src/platform/memory-trim.ts).
  const memoryTrim = startMemoryTrim((t) => {
    gateway.metrics.memoryTrimPause.observe(t.ms / 1000);
    log.debug({ mod: 'memory', slackMiB: mib(t.slackBytes), ms: Math.round(t.ms), freedMiB: mib(t.freedBytes) }, 'memory trimmed');
  });
  // Read once started: the config file plus what head office pushed (a pushed value waits for a restart).
  const drainMs = gateway.config.config.http.drainTimeoutMs;
  // SIGTERM/SIGINT: stop taking requests, drain in-flight ones (at most drainMs), sync the journal, exit 0
  // (README "Shutdown"). Every line goes through the JSON logger: journald gets nothing else.
  closeWithGrace(
    {
      delay: drainMs + STOP_AFTER_DRAIN_MS,
      logger: false,
      onTimeout: (ms) => {
        log.fatal({ mod: 'gateway', limitMs: ms, drainTimeoutMs: drainMs }, 'stop did not finish in time: exiting 1 (the journal is crash-safe)');
        log.flush();
      },
      onSecondSignal: (signal) => {
        log.fatal({ mod: 'gateway', signal }, 'second signal during shutdown: exiting 1 at once');
        log.flush();
      },
      onSecondError: (err) => {
        log.fatal({ mod: 'gateway', err }, 'error during shutdown: exiting 1');
        log.flush();
      },
    },
    async ({ signal, err }) => {
      if (err) log.error({ err }, 'fatal error, shutting down');
      else log.info({ signal, drainTimeoutMs: drainMs }, 'shutting down');
      void systemd.stopping();
      idleHeap.stop();
      memoryTrim.stop();
      await gateway.stop({ drainMs });
      log.flush();
    },
  );
  // READY=1 only now: the journal is open and HTTP listens (systemd/storegate.service is Type=notify).
  void systemd.ready(`ready: ${url}, mode ${gateway.config.config.mode}`);
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
