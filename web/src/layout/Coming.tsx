/** A placeholder for a workspace page not built yet. */
import { WorkspaceTabs, type WorkspaceTab } from './WorkspaceTabs.tsx';

/** Says the page is coming, under the workspace's tabs. */
export function Coming(props: { wsRef: string; tab: WorkspaceTab; what: string }) {
  return (
    <>
      <WorkspaceTabs wsRef={props.wsRef} current={props.tab} />
      <p>{props.what}: coming.</p>
    </>
  );
}
