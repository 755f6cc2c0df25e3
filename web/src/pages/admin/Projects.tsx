/** Projects: the list, a new project (admins), and each project's members with their roles (owners and admins change them). */
import { useState, type FormEvent } from 'react';
import type { Member, Project } from '../../../../src/sdk/wire.ts';
import { del, get, post, put } from '../../api.ts';
import { Confirm } from '../../layout/Confirm.tsx';
import { useAction, useLoad } from '../../layout/hooks.ts';
import { useSession } from '../../session.tsx';
import { ErrorLine, Field, Table } from '../../layout/ui.tsx';

const ROLES = ['viewer', 'developer', 'owner'] as const;
type Role = (typeof ROLES)[number];

/** The page. */
export function ProjectsPage() {
  const { session } = useSession();
  const projects = useLoad(() => get<Project[]>('/projects'), []);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <h1>Projects</h1>
      {session.user.role === 'admin' && <NewProject onCreated={projects.reload} />}
      <ErrorLine error={projects.error} />
      <Table label="Projects" columns={['Name', 'Repository', 'Branch', 'Members']}>
        {projects.data?.map((p) => (
          <tr key={p.id} data-project={p.name}>
            <td>{p.name}</td>
            <td>{p.repo}</td>
            <td>{p.branch ?? '(upstream default)'}</td>
            <td>
              <button type="button" aria-expanded={open === p.name} onClick={() => setOpen(open === p.name ? null : p.name)} aria-label={`Members of ${p.name}`}>
                {open === p.name ? 'Hide' : 'Members'}
              </button>
            </td>
          </tr>
        ))}
      </Table>
      {open && <Members project={open} />}
    </>
  );
}

function NewProject(props: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [repo, setRepo] = useState('');
  const [branch, setBranch] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await post('/projects', { name, repo, ...(branch ? { branch } : {}) });
      setName('');
      setRepo('');
      setBranch('');
      props.onCreated();
    });
  };
  return (
    <form className="row card" onSubmit={submit} aria-label="New project">
      <Field label="Project name" value={name} onChange={setName} required />
      <Field label="Repository URL" value={repo} onChange={setRepo} required size={40} />
      <Field label="Branch" value={branch} onChange={setBranch} placeholder="upstream default" />
      <button type="submit" disabled={action.busy}>
        Add project
      </button>
      <ErrorLine error={action.error} />
    </form>
  );
}

function Members(props: { project: string }) {
  const path = `/projects/${encodeURIComponent(props.project)}/members`;
  const members = useLoad(() => get<Member[]>(path), [path]);
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const [removing, setRemoving] = useState<string | null>(null);
  const action = useAction();
  const setMember = (name: string, r: Role) => void action.run(async () => (await put(`${path}/${encodeURIComponent(name)}`, { role: r }), members.reload()));
  const add = (e: FormEvent) => {
    e.preventDefault();
    setMember(user, role);
    setUser('');
  };
  const remove = (yes: boolean) => {
    const name = removing;
    setRemoving(null);
    if (yes && name) void action.run(async () => (await del(`${path}/${encodeURIComponent(name)}`), members.reload()));
  };
  return (
    <section className="card" aria-labelledby="h-members">
      <h2 id="h-members">Members of {props.project}</h2>
      <ErrorLine error={members.error} />
      <Table label={`Members of ${props.project}`} columns={['User', 'Role', '']}>
        {members.data?.map((m) => (
          <tr key={m.user}>
            <td>{m.user}</td>
            <td>
              <select aria-label={`Role of ${m.user}`} value={m.role} onChange={(e) => setMember(m.user, e.target.value as Role)}>
                {ROLES.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </td>
            <td>
              <button type="button" onClick={() => setRemoving(m.user)} aria-label={`Remove ${m.user}`}>
                Remove
              </button>
            </td>
          </tr>
        ))}
      </Table>
      <form className="row" onSubmit={add}>
        <Field label="User to add" value={user} onChange={setUser} required />
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={action.busy}>
          Add member
        </button>
      </form>
      <ErrorLine error={action.error} />
      {removing && <Confirm question={`Remove ${removing} from ${props.project}?`} confirmLabel="Remove member" onAnswer={remove} />}
    </section>
  );
}
