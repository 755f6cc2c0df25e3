/**
 * The task methods of a client, apart from the task schemas in tasks.ts: the client (and so every
 * CLI command) imports this file, and only types from there, so a command does not pay for loading
 * TypeBox and building the schemas.
 */
import type { BerthClient } from './client.ts';
import type { RunTask, Task, TaskEvent, TaskLog } from './tasks.ts';

/** The task methods of a client; stable names for the CLI, tests and the MCP server. */
export class TasksApi {
  constructor(private readonly c: BerthClient) {}

  /** Starts a task; the server creates the workspaces and runs the command in the background. */
  runTask(input: RunTask): Promise<Task> {
    return this.c.request<Task>('POST', '/api/v1/tasks', input);
  }
  /** A task with every run. */
  getTask(id: string): Promise<Task> {
    return this.c.request<Task>('GET', `/api/v1/tasks/${encodeURIComponent(id)}`);
  }
  /** Tasks you may see, newest first. */
  listTasks(): Promise<Task[]> {
    return this.c.request<Task[]>('GET', '/api/v1/tasks');
  }
  /** The kept output of each run (or of one, by index). */
  taskLogs(id: string, index?: number): Promise<TaskLog[]> {
    return this.c.request<TaskLog[]>('GET', `/api/v1/tasks/${encodeURIComponent(id)}/logs${index === undefined ? '' : `?index=${index}`}`);
  }
  /** Stops what still runs, deletes the task's remaining workspaces and forgets it. */
  deleteTask(id: string): Promise<Task> {
    return this.c.request<Task>('DELETE', `/api/v1/tasks/${encodeURIComponent(id)}`);
  }

  /** Streams the task's events until it ends (the last event is the finished task), `onEvent` returns true, or `signal` fires. */
  async followTask(id: string, onEvent: (e: TaskEvent) => boolean | void, signal?: AbortSignal): Promise<void> {
    await this.c.follow(new URL(`${this.c.url}/api/v1/tasks/${encodeURIComponent(id)}/events?follow=true`), (e) => onEvent(e as TaskEvent), signal);
  }
}
