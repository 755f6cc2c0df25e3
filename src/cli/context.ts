/** Where the CLI finds its server URL and token: flags, then BERTH_URL/BERTH_TOKEN, then the login file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthClient } from '../sdk/client.ts';

/** Saved login. */
export interface CliConfig {
  url?: string;
  token?: string;
}

/** Path of the login file (`$BERTH_CONFIG` or `~/.config/berth/config.json`). */
export function configPath(): string {
  return process.env.BERTH_CONFIG ?? path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'berth', 'config.json');
}

/** Reads the login file; missing means empty. */
export function readConfig(): CliConfig {
  try {
    return JSON.parse(fs.readFileSync(configPath(), 'utf8')) as CliConfig;
  } catch {
    return {};
  }
}

/** Writes the login file with mode 0600, since it holds a token. */
export function writeConfig(cfg: CliConfig): void {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** An error the CLI prints as one line and exits with `exitCode`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Builds an API client from environment and login file. */
export function client(): BerthClient {
  const cfg = readConfig();
  const url = process.env.BERTH_URL ?? cfg.url;
  const token = process.env.BERTH_TOKEN ?? cfg.token;
  if (!url) throw new CliError('Not logged in: run "berth login --url URL --token TOKEN" or set BERTH_URL and BERTH_TOKEN.');
  return new BerthClient(url, token);
}
