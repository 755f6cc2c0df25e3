/** Your API tokens: create (shown once) and revoke. */
import { useState, type FormEvent } from 'react';
import type { NewToken, Token } from '../../../src/sdk/wire.ts';
import { del, get, post } from '../api.ts';
import { Confirm } from '../layout/Confirm.tsx';
import { useAction, useLoad } from '../layout/hooks.ts';
import { Secret } from '../layout/Secret.tsx';
import { ErrorLine, Field, Table } from '../layout/ui.tsx';

const when = (s: string | null) => (s ? new Date(s).toLocaleString() : '—');

/** The page. */
export function TokensPage() {
  const tokens = useLoad(() => get<Token[]>('/tokens'), []);
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState('');
  const [made, setMade] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const action = useAction();
  const create = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      const t = await post<NewToken>('/tokens', { name, ...(ttl ? { ttl } : {}) });
      setMade(t.token);
      setName('');
      tokens.reload();
    });
  };
  const revoke = (yes: boolean) => {
    const t = revoking;
    setRevoking(null);
    if (yes && t) void action.run(async () => (await del(`/tokens/${t.id}`), tokens.reload()));
  };
  return (
    <>
      <h1>Tokens</h1>
      <form className="row" onSubmit={create}>
        <Field label="Token name" value={name} onChange={setName} required />
        <Field label="Lifetime" value={ttl} onChange={setTtl} placeholder="e.g. 30d (default: the server's)" />
        <button type="submit" disabled={action.busy}>
          Create token
        </button>
      </form>
      <ErrorLine error={action.error ?? tokens.error} />
      {made && <Secret label="New token" value={made} />}
      <Table label="Tokens" columns={['Name', 'Created', 'Expires', 'Revoked', '']}>
        {tokens.data?.map((t) => (
          <tr key={t.id}>
            <td>{t.name}</td>
            <td>{when(t.createdAt)}</td>
            <td>{when(t.expiresAt)}</td>
            <td>{when(t.revokedAt)}</td>
            <td>
              {!t.revokedAt && (
                <button type="button" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        ))}
      </Table>
      {revoking && <Confirm question={`Revoke token ${revoking.name}? Anything using it stops working (this session too, if you signed in with it).`} confirmLabel="Revoke" onAnswer={revoke} />}
    </>
  );
}
