import { TestServer } from './test/harness.ts';
import { generatedRepo } from './bench/repo.ts';
import { cleanupEngines, installationOf } from './test/docker/env.ts';
const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
const inst = installationOf(server);
const c = server.client();
try {
  await c.createProject({ name: 'bench', repo: generatedRepo(1000, 500) });
  const w = await c.createWorkspace({ name: 'r', project: 'bench', provisioner: 'docker', spec: { image: 'berth-test/bookworm:48e3ce2e37e2' } });
  await c.followEvents(w.id, (e) => e.kind === 'phase' && e.message === 'running');
  for (let i = 0; i < 3; i++) {
    let last = (await c.lastEvent(w.id))!.id;
    await c.stopWorkspace(w.id);
    await c.followEvents(w.id, (e) => e.kind === 'phase' && e.message === 'stopped', { after: last });
    last = (await c.lastEvent(w.id))!.id;
    const t0 = Date.now();
    await c.startWorkspace(w.id);
    await c.followEvents(w.id, (e) => { console.log(Date.now() - t0, e.ts.slice(17), e.kind, e.message); return e.kind === 'phase' && e.message === 'running'; }, { after: last });
    console.log('total', Date.now() - t0);
  }
} finally { console.log(server.logs.split("\n").filter((l) => l.startsWith("T ")).join("\n")); await server.stop(); cleanupEngines(inst); }
