/**
 * Provisioner options on the command line: each option of a type's schema (as the server reports
 * it) is a `--kebab-case` flag, so the CLI needs no per-type code. Booleans take no value
 * (`--allow-ports`, `--no-tls-verify`); numbers are parsed; everything else is a string.
 */
import type { ProvisionerType } from '../sdk/wire.ts';
import { CliError } from './context.ts';

interface PropertySchema {
  type?: string;
  description?: string;
  anyOf?: { const?: unknown; type?: string }[];
}

/** `dockerHost` → `--docker-host`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function properties(t: ProvisionerType): Record<string, PropertySchema> {
  return ((t.options as { properties?: Record<string, PropertySchema> } | null)?.properties ?? {});
}

/** The values a property accepts, as help text shows them (`bind|volume`, `<string>`, none for booleans). */
function valueHint(p: PropertySchema): string {
  const consts = p.anyOf?.map((a) => a.const).filter((c): c is string | number => typeof c === 'string' || typeof c === 'number');
  if (consts?.length) return ` ${consts.join('|')}`;
  return p.type === 'boolean' ? '' : ` <${p.type === 'integer' || p.type === 'number' ? 'number' : 'value'}>`;
}

/** One line per option of a type: flag, values, description. */
export function describeOptions(t: ProvisionerType): string[] {
  const props = Object.entries(properties(t));
  if (props.length === 0) return ['  (no options)'];
  const rows = props.map(([k, p]) => [`${flagOf(k)}${valueHint(p)}`, p.description ?? '']);
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([f, d]) => `  ${f!.padEnd(width)}  ${d}`);
}

/** Turns `--flag value` arguments into the type's options; an unknown flag or a bad value is a CliError naming it. */
export function parseTypeOptions(t: ProvisionerType, args: string[]): Record<string, unknown> {
  const props = properties(t);
  const byFlag = new Map(Object.keys(props).map((k) => [flagOf(k), k]));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^(--[a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new CliError(`Unexpected argument "${arg}". Provisioner options are flags such as ${[...byFlag.keys()][0] ?? '--option'} VALUE; see: berth provisioner types`);
    let flag = m[1]!;
    let value: string | undefined = m[2];
    let key = byFlag.get(flag);
    if (!key && flag.startsWith('--no-') && props[byFlag.get(`--${flag.slice(5)}`) ?? '']?.type === 'boolean') {
      key = byFlag.get(`--${flag.slice(5)}`)!;
      flag = `--${flag.slice(5)}`;
      value = 'false';
    }
    if (!key) {
      throw new CliError(`The ${t.type} provisioner has no option ${flag}. Its options: ${[...byFlag.keys()].join(', ') || 'none'}.`);
    }
    const p = props[key]!;
    if (p.type === 'boolean') {
      if (value === undefined) value = 'true';
      if (value !== 'true' && value !== 'false') throw new CliError(`${flag} takes no value (or =true / =false); got "${value}".`);
      out[key] = value === 'true';
      continue;
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined) throw new CliError(`${flag} needs a value.`);
    }
    if (p.type === 'integer' || p.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new CliError(`${flag} must be a number; got "${value}".`);
      out[key] = n;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Options to remove (`--unset server-url` or `--unset --server-url`), as the null values the API takes; unknown names are CliErrors. */
export function unsetTypeOptions(t: ProvisionerType, names: string[]): Record<string, null> {
  const byFlag = new Map(Object.keys(properties(t)).map((k) => [flagOf(k), k]));
  const out: Record<string, null> = {};
  for (const n of names) {
    const flag = n.startsWith('--') ? n : `--${n}`;
    const key = byFlag.get(flag);
    if (!key) throw new CliError(`The ${t.type} provisioner has no option ${flag} to unset. Its options: ${[...byFlag.keys()].join(', ') || 'none'}.`);
    out[key] = null;
  }
  return out;
}
