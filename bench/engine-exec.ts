/** The raw tools' exec through the Docker engine API, shared by the benchmarks' equal-work baselines. */
import type Docker from 'dockerode';

/** Runs `echo ok` in a running container and resolves once its output arrives. */
export async function execEchoOk(c: Docker.Container): Promise<void> {
  const exec = await c.exec({ Cmd: ['echo', 'ok'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (d: Buffer) => d.includes('ok') && resolve());
    stream.once('end', () => reject(new Error('exec gave no output')));
    stream.once('error', reject);
  });
  stream.destroy();
}
