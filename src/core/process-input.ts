/**
 * Strings that end up in a process (arguments, environment, paths) are C strings: a NUL character
 * cannot be passed and would only fail later, at every provision attempt. They are refused at the
 * edge, with the field named.
 */
import { InputError } from './errors.ts';
import type { SpecInput } from './spec.ts';

/** Throws InputError naming `field` when `value` holds a NUL character. */
export function assertNoNul(value: string, field: string): void {
  if (value.includes('\0')) {
    throw new InputError(`${field} contains a NUL character, which no command, environment variable or path can hold; remove it.`);
  }
}

/** Checks every string of a spec that reaches a process: env, commands, shell, user, image, registry logins (paths are checked as paths). */
export function assertSpecProcessStrings(spec: SpecInput): void {
  for (const [field, value] of [
    ['spec.image', spec.image],
    ['spec.shell', spec.shell],
    ['spec.user', spec.user],
  ] as const) {
    if (value !== undefined) assertNoNul(value, field);
  }
  (spec.env ?? []).forEach((e, i) => {
    assertNoNul(e.name, `spec.env[${i}].name`);
    assertNoNul(e.value, `spec.env[${i}].value (${e.name.replace(/\0/g, '')})`);
  });
  for (const key of ['setup', 'teardown'] as const) (spec[key] ?? []).forEach((cmd, i) => assertNoNul(cmd, `spec.${key}[${i}]`));
  (spec.registryLogins ?? []).forEach((l, i) => {
    assertNoNul(l.username, `spec.registryLogins[${i}].username`);
    assertNoNul(l.password, `spec.registryLogins[${i}].password`);
  });
}

/** Checks an exec request's command, environment and working directory. */
export function assertExecStrings(start: { cmd: string[]; env?: Record<string, string>; cwd?: string }): void {
  start.cmd.forEach((a, i) => assertNoNul(a, `cmd[${i}]`));
  for (const [k, v] of Object.entries(start.env ?? {})) assertNoNul(v, `env ${k}`);
  if (start.cwd !== undefined) assertNoNul(start.cwd, 'cwd');
}
