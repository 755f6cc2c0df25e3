/** The create form: project, branch, provisioner and the spec's common fields; the server's validation message is shown beside it. */
import { useState, type FormEvent } from 'react';
import type { SpecInput } from '../../../src/core/spec.ts';
import type { CreateWorkspace as Create, Project, ProvisionerInfo, Workspace } from '../../../src/sdk/wire.ts';
import { get, post } from '../api.ts';
import { useAction, useLoad } from '../layout/hooks.ts';
import { navigate } from '../router.tsx';

/** `KEY=value` lines to env entries; blank lines and `#` comments are skipped. */
export function parseEnv(text: string): { name: string; value: string }[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const eq = l.indexOf('=');
      return eq < 0 ? { name: l, value: '' } : { name: l.slice(0, eq).trim(), value: l.slice(eq + 1) };
    });
}

/** `8080, 3000/udp` to port entries; what is not a number is sent as is so the server names the mistake. */
export function parsePorts(text: string): { port: number; protocol?: 'tcp' | 'udp' }[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((p) => {
      const [port, proto] = p.split('/');
      return { port: Number(port), ...(proto ? { protocol: proto as 'tcp' | 'udp' } : {}) };
    });
}

/** Builds the request from the form's fields; empty fields are left out so the server's defaults apply. */
export function buildRequest(f: Record<string, string>): Create {
  const spec: SpecInput = {};
  if (f.image) spec.image = f.image.trim();
  const resources: NonNullable<SpecInput['resources']> = {};
  if (f.cpus) resources.cpus = Number(f.cpus);
  if (f.memory) resources.memory = /^\d+$/.test(f.memory.trim()) ? Number(f.memory) : f.memory.trim();
  if (Object.keys(resources).length) spec.resources = resources;
  if (f.env?.trim()) spec.env = parseEnv(f.env);
  if (f.ports?.trim()) spec.ports = parsePorts(f.ports);
  if (f.setup?.trim()) spec.setup = [f.setup];
  return {
    name: f.name!.trim(),
    project: f.project!,
    ...(f.ref?.trim() ? { ref: f.ref.trim() } : {}),
    ...(f.provisioner ? { provisioner: f.provisioner } : {}),
    ...(Object.keys(spec).length ? { spec } : {}),
  };
}

/** The spec fields of the form; `cap` names the provisioner capability a field needs. */
const FIELDS: { id: string; label: string; hint?: string; textarea?: boolean; cap?: keyof ProvisionerInfo['capabilities'] }[] = [
  { id: 'ref', label: 'Branch or tag', hint: "empty: the project's branch" },
  { id: 'image', label: 'Image', hint: 'e.g. debian:bookworm', cap: 'image' },
  { id: 'cpus', label: 'CPUs', hint: 'e.g. 2 or 0.5', cap: 'resources' },
  { id: 'memory', label: 'Memory', hint: 'e.g. 2GiB', cap: 'resources' },
  { id: 'ports', label: 'Ports', hint: 'e.g. 8080, 5353/udp' },
  { id: 'env', label: 'Environment', hint: 'one KEY=value a line', textarea: true },
  { id: 'setup', label: 'Setup script', hint: 'runs once, in the checkout', textarea: true },
];

/** The page. */
export function CreateWorkspace() {
  const projects = useLoad(() => get<Project[]>('/projects'), []);
  const provisioners = useLoad(() => get<ProvisionerInfo[]>('/provisioners'), []);
  const [f, setF] = useState<Record<string, string>>({ name: '', project: '', provisioner: '' });
  const action = useAction();
  const set = (k: string, v: string) => setF((old) => ({ ...old, [k]: v }));
  const project = f.project || projects.data?.[0]?.name || '';
  const chosen = provisioners.data?.find((p) => (f.provisioner ? p.name === f.provisioner : p.default));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      const w = await post<Workspace>('/workspaces', buildRequest({ ...f, project }));
      navigate(`/workspaces/${w.id}`);
    });
  };
  return (
    <>
      <h1>New workspace</h1>
      {(projects.error ?? provisioners.error) && <p className="error">{projects.error ?? provisioners.error}</p>}
      {projects.data?.length === 0 && <p className="hint">There is no project yet; an admin adds one on the Projects page.</p>}
      <form className="stack" onSubmit={submit} aria-describedby="create-error">
        <label htmlFor="f-name">Name</label>
        <input id="f-name" value={f.name} onChange={(e) => set('name', e.target.value)} required pattern={String.raw`[a-z0-9][a-z0-9\-]*`} title="lower-case letters, digits and dashes" autoFocus />
        <label htmlFor="f-project">Project</label>
        <select id="f-project" value={project} onChange={(e) => set('project', e.target.value)} required>
          {projects.data?.map((p) => (
            <option key={p.id} value={p.name}>
              {p.name} ({p.repo})
            </option>
          ))}
        </select>
        <label htmlFor="f-provisioner">Provisioner</label>
        <select id="f-provisioner" value={f.provisioner} onChange={(e) => set('provisioner', e.target.value)}>
          <option value="">the default</option>
          {provisioners.data?.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name} ({p.type}){p.default ? ', default' : ''}
              {p.error ? ', unavailable' : ''}
            </option>
          ))}
        </select>
        {FIELDS.map((x) => (
          <FieldRow key={x.id} {...x} unused={x.cap && chosen && !chosen.capabilities[x.cap] ? chosen.name : undefined} value={f[x.id] ?? ''} onChange={(v) => set(x.id, v)} />
        ))}
        <span />
        <div className="row">
          <button type="submit" disabled={action.busy || !project}>
            Create
          </button>
          <p id="create-error" role="alert" className="error">
            {action.error}
          </p>
        </div>
      </form>
    </>
  );
}

/** One spec field; `unused` names the chosen provisioner when it does not honour the field. */
function FieldRow(props: { id: string; label: string; hint?: string; textarea?: boolean; unused?: string | undefined; value: string; onChange: (v: string) => void }) {
  const id = `f-${props.id}`;
  return (
    <>
      <label htmlFor={id}>
        {props.label}
        {props.unused && <span className="hint"> (not used by {props.unused})</span>}
      </label>
      {props.textarea ? (
        <textarea id={id} rows={3} value={props.value} onChange={(e) => props.onChange(e.target.value)} placeholder={props.hint} />
      ) : (
        <input id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)} placeholder={props.hint} />
      )}
    </>
  );
}
