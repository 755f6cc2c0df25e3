/** Users (admins): the list, and a new user with their first token. */
import { useState, type FormEvent } from 'react';
import type { User } from '../../../../src/sdk/wire.ts';
import { get, post } from '../../api.ts';
import { useAction, useLoad } from '../../layout/hooks.ts';
import { Secret } from '../../layout/Secret.tsx';
import { ErrorLine, Field, Table } from '../../layout/ui.tsx';

/** The page. */
export function UsersPage() {
  const users = useLoad(() => get<User[]>('/users'), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [made, setMade] = useState<{ user: User; token: string } | null>(null);
  const action = useAction();
  const create = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      setMade(await post<{ user: User; token: string }>('/users', { name, role }));
      setName('');
      users.reload();
    });
  };
  return (
    <>
      <h1>Users</h1>
      <form className="row" onSubmit={create}>
        <Field label="User name" value={name} onChange={setName} required />
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as 'user' | 'admin')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" disabled={action.busy}>
          Create user
        </button>
      </form>
      <ErrorLine error={action.error ?? users.error} />
      {made && <Secret label={`First token of ${made.user.name}`} value={made.token} />}
      <Table label="Users" columns={['Name', 'Role', 'Created']}>
        {users.data?.map((u) => (
          <tr key={u.id}>
            <td>{u.name}</td>
            <td>{u.role}</td>
            <td>{new Date(u.createdAt).toLocaleString()}</td>
          </tr>
        ))}
      </Table>
    </>
  );
}
