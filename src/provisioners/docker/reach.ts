/**
 * How workspaces on a Docker engine reach the control plane (BERTH_SERVER_URL, git's `origin`):
 * the decision, made from options, the server's URL and the engine without side effects, and the
 * probe that an admin adding a provisioner runs from a short-lived container on the engine.
 */
import type Docker from 'dockerode';
import { AbortedError } from '../../core/errors.ts';
import { isLocalOnly } from '../../core/urls.ts';
import type { DockerEngine } from './engine.ts';

/** The name Docker gives the host inside workspaces (via an /etc/hosts entry Berth adds). */
export const HOST_ALIAS = 'host.docker.internal';

/** Where workspaces find the control plane. */
export type Route =
  /** Workspaces use `url` as it is. */
  | { kind: 'direct'; url: string }
  /** A forwarder on `address` (this host's address on the workspaces' network) to a control plane that listens on loopback only. */
  | { kind: 'forward'; address: string; target: { host: string; port: number }; protocol: string }
  /** Workspaces get `url` but cannot reach it; `why` is a clause saying why. */
  | { kind: 'unreachable'; url: string; why: string };

/** What the route depends on. */
export interface RouteInput {
  /** The control plane's URL as its own host sees it. */
  hostUrl: string;
  /** The provisioner's `serverUrl` option. */
  serverUrl?: string | undefined;
  /** The workspaces' Docker network. */
  network: string;
  /** Whether the engine runs on this machine. */
  local: boolean;
  /** Whether a forwarder can be opened (the plug-in shares one set). */
  canForward: boolean;
  /** This host's address on the workspaces' network, looked up only when needed. */
  hostAddress: () => Promise<{ address: string } | { missing: string }>;
}

/** Why a workspace given `url` on this engine and network cannot reach it, or undefined when nothing says it cannot. */
export function unreachableWhy(url: string, o: { network: string; local: boolean }): string | undefined {
  if (o.network === 'none') return 'the provisioner gives them no network: --network none';
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return `${url} is not a URL`;
  }
  if (!isLocalOnly(host)) return undefined;
  if (o.network === 'host') return o.local ? undefined : `${host} is the engine's machine, not this one`;
  return `${host} inside a container is the container itself${o.local ? '' : ', and the engine runs on another machine'}`;
}

/**
 * Decides the route: the `serverUrl` option wins; a URL workspaces reach is used unchanged; a
 * control plane on loopback (or the any-address) gets a forwarder on this host's address on the
 * workspace network when the engine is on this machine; anything else is unreachable, with why.
 */
export async function decideRoute(i: RouteInput): Promise<Route> {
  if (i.serverUrl) return { kind: 'direct', url: i.serverUrl.replace(/\/+$/, '') };
  const url = i.hostUrl.replace(/\/+$/, '');
  const why = unreachableWhy(url, i);
  if (!why) return { kind: 'direct', url };
  if (!i.local || i.network === 'none' || !i.canForward) return { kind: 'unreachable', url, why };
  const u = new URL(url);
  const found = await i.hostAddress();
  if ('missing' in found) return { kind: 'unreachable', url, why: `it listens on this machine only and no forwarder can be opened for the workspaces: ${found.missing}` };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const target = { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
  return { kind: 'forward', address: found.address, target, protocol: u.protocol };
}

/** The one sentence an admin (at `provisioner add`) and a workspace's event log (at provision) get when workspaces cannot reach the control plane. */
export function unreachableSentence(where: string, url: string, why: string, network?: string): string {
  const fix = network === 'none' ? '' : '; give the provisioner a URL they can reach with --server-url URL';
  return `Workspaces on ${where} cannot reach the control plane at ${url} (${why}), so git and BERTH_SERVER_URL do not work from inside them${fix}.`;
}

/**
 * The probe, in POSIX sh: GET /healthz with curl (-k over https: it checks reachability, and the probe container lacks the team's CA), else bash's /dev/tcp, else nc (https without curl
 * only checks the connection). Exit 0: reachable. 97: no tool in the image; 98: the tool crashed
 * (busybox built against static glibc cannot resolve names); both mean "try another image".
 * Anything else: unreachable, with the reason as the last line of output.
 */
const PROBE_SCRIPT = String.raw`url=$1 host=$2 port=$3 tls=$4
t=; command -v timeout >/dev/null 2>&1 && t="timeout 8"
nc_probe() {
  out=$(printf 'GET /healthz HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$host" "$port" | $t nc -w 5 "$host" "$port" 2>&1); rc=$?
  if [ $rc -ne 0 ]; then [ -n "$out" ] && printf '%s\n' "$out"; return $rc; fi
  [ "$tls" = 1 ] && return 0
  r=$(printf '%s\n' "$out" | head -n 1 | tr -d '\r')
  case "$r" in *" 200 "*) return 0;; "") echo "no answer from $host:$port"; return 1;; esac
  echo "$host:$port answered: $r"; return 2
}
k=; [ "$tls" = 1 ] && k=-k
if command -v curl >/dev/null 2>&1; then $t curl -sS -f $k -m 8 -o /dev/null "$url/healthz" 2>&1
elif command -v bash >/dev/null 2>&1; then $t bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; [ "$3" = 1 ] && exit 0; printf "GET /healthz HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$1" "$2" >&3; IFS= read -r line <&3; line=$(printf %s "$line" | tr -d "\r"); case "$line" in *" 200 "*) exit 0;; "") echo "no answer from $1:$2"; exit 1;; esac; echo "$1:$2 answered: $line"; exit 2' probe "$host" "$port" "$tls" 2>&1
elif command -v nc >/dev/null 2>&1; then nc_probe
else echo "none of curl, bash or nc is in the image"; exit 97; fi
rc=$?
case $rc in 0) exit 0;; 124|143) echo "no answer within 8 seconds"; exit 1;; esac
[ $rc -gt 128 ] && exit 98
exit $rc`;

/** What the probe found. */
export type ProbeResult = { reachable: true; image: string } | { reachable: false; why: string; image: string } | { skipped: string };

/** What the probe container needs. */
export interface ProbeInput {
  /** The URL workspaces get. */
  url: string;
  /** The workspaces' network and extra /etc/hosts entries, so the probe sees what they see. */
  network: string;
  extraHosts?: string[] | undefined;
  /** Images to try first (the provisioner's default image); images already on the engine follow, smallest first. */
  preferred: string[];
  /** Labels that mark the container as this control plane's probe (removed as a leftover after a crash). */
  labels: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** How many images are tried before the probe gives up finding one with a tool. */
const MAX_IMAGES = 3;
/** How long one probe container may run. */
const PROBE_MS = 20_000;

/**
 * Fetches `<url>/healthz` from a short-lived container on the workspaces' network: no
 * capabilities, read-only, removed afterwards. Uses an image already on the engine (nothing is
 * pulled), trying the next one when an image lacks a tool; `skipped` when none can probe.
 */
export async function probeReach(engine: DockerEngine, i: ProbeInput): Promise<ProbeResult> {
  const u = new URL(i.url);
  const args = [i.url.replace(/\/+$/, ''), u.hostname.replace(/^\[|\]$/g, ''), u.port || (u.protocol === 'https:' ? '443' : '80'), u.protocol === 'https:' ? '1' : '0'];
  const images = [...i.preferred, ...(await engine.listImages()).map((m) => m.tag)];
  const tried: string[] = [];
  for (const image of [...new Set(images)].slice(0, MAX_IMAGES)) {
    if (i.signal?.aborted) throw new AbortedError();
    if (!(await engine.inspectImage(image))) continue;
    tried.push(image);
    const spec: Docker.ContainerCreateOptions = {
      Image: image,
      Entrypoint: ['/bin/sh', '-c', PROBE_SCRIPT, 'probe', ...args],
      Cmd: [],
      Labels: i.labels,
      HostConfig: {
        NetworkMode: i.network,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        ReadonlyRootfs: true,
        Memory: 64 << 20,
        PidsLimit: 32,
        ...(i.extraHosts?.length ? { ExtraHosts: i.extraHosts } : {}),
      },
    };
    let res: { code: number | null; output: string };
    try {
      res = await engine.runOnce(spec, PROBE_MS, i.signal);
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      continue; // e.g. no /bin/sh in the image
    }
    if (res.code === 0) return { reachable: true, image };
    if (res.code === 97 || res.code === 98) continue;
    const last = res.output.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter(Boolean).pop();
    const why = res.code === null ? `no answer within ${PROBE_MS / 1000} seconds` : (last ?? `the probe exited with code ${res.code}`);
    return { reachable: false, why: `a probe from ${image} says: ${why}`, image };
  }
  return { skipped: tried.length ? `none of ${tried.join(', ')} has curl, bash or nc` : 'the engine has no image to run a probe with' };
}
