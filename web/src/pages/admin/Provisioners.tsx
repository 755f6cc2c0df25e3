/** Provisioners with their health: the list from the API, each one's readiness check from /readyz. */
import type { ProvisionerInfo } from '../../../../src/sdk/wire.ts';
import { get } from '../../api.ts';
import { useLoad } from '../../layout/hooks.ts';
import { ErrorLine, Table } from '../../layout/ui.tsx';

interface Readiness {
  status: string;
  checks: { name: string; ok: boolean; message?: string }[];
}

/** /readyz answers 503 with the same body when something is not ready; both are an answer here. */
async function readiness(): Promise<Readiness> {
  const res = await fetch('/readyz', { credentials: 'same-origin' });
  if (res.status !== 200 && res.status !== 503) throw new Error(`/readyz answered ${res.status}.`);
  return (await res.json()) as Readiness;
}

const CAPS: [keyof ProvisionerInfo['capabilities'], string][] = [
  ['image', 'image'],
  ['resources', 'cpu/memory limits'],
  ['user', 'user'],
  ['registryLogins', 'registry logins'],
  ['runsOnHost', "runs on the server's host (admins only)"],
];

/** The page. */
export function ProvisionersPage() {
  const list = useLoad(() => get<ProvisionerInfo[]>('/provisioners'), []);
  const health = useLoad(readiness, []);
  const check = (name: string) => health.data?.checks.find((c) => c.name === `provisioner ${name}`);
  return (
    <>
      <div className="row spread">
        <h1>Provisioners</h1>
        <button type="button" onClick={() => (list.reload(), health.reload())}>
          Check again
        </button>
      </div>
      <ErrorLine error={list.error ?? health.error} />
      <Table label="Provisioners" columns={['Name', 'Type', 'Health', 'Workspaces', 'Can do']}>
        {list.data?.map((p) => {
          const c = check(p.name);
          const state = p.error ? `unavailable: ${p.error}` : !c ? (health.data ? 'not checked' : 'checking…') : c.ok ? 'healthy' : `unhealthy: ${c.message ?? ''}`;
          return (
            <tr key={p.name} data-provisioner={p.name}>
              <td>
                {p.name}
                {p.default ? ' (default)' : ''}
              </td>
              <td>{p.type}</td>
              <td className={p.error || (c && !c.ok) ? 'error' : c ? 'phase-running' : ''} data-health={c?.ok ?? ''}>
                {state}
              </td>
              <td>{p.workspaces}</td>
              <td>{CAPS.filter(([k]) => p.capabilities[k]).map(([, l]) => l).join(', ') || '—'}</td>
            </tr>
          );
        })}
      </Table>
    </>
  );
}
