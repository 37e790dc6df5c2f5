import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/** Where a drill approves manual rollbacks: Failsafe's MCP endpoint, with an approver's token. */
export interface McpApprover {
  readonly mcpUrl: string;
  readonly token: string;
}

/** The one MCP client of the drills: the SDK's, negotiating the protocol revision with the server. */
async function withMcpClient<T>(
  url: string,
  options: { readonly token?: string | undefined; readonly timeoutMs: number },
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client(
    { name: 'failsafe-drill-runner', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }), {
    timeout: options.timeoutMs,
  });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/** How many tools an MCP endpoint lists (tools/list); 0 when it does not answer. */
export async function toolCount(mcpUrl: string, timeoutMs = 5000): Promise<number> {
  try {
    return await withMcpClient(
      mcpUrl,
      { timeoutMs },
      async (client) => (await client.listTools(undefined, { timeout: timeoutMs })).tools.length,
    );
  } catch {
    return 0;
  }
}

/**
 * Approves a rollback as an SRE's MCP client would: the `approve_rollback` tool, on the revision
 * the server offers (2026-07-28 for Failsafe). Throws with Failsafe's own message when it refuses.
 */
export async function approveThroughMcp(approver: McpApprover, service: string, rollbackId: string): Promise<string> {
  return withMcpClient(approver.mcpUrl, { token: approver.token, timeoutMs: 30_000 }, async (client) => {
    const result = await client.callTool({ name: 'approve_rollback', arguments: { service, rollbackId } });
    const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
    if (result.isError) throw new Error(`approve_rollback refused: ${text}`);
    const approvedBy = (result.structuredContent as { approvedBy?: string } | undefined)?.approvedBy;
    return `approved by ${approvedBy ?? 'the approver'} over MCP ${client.getNegotiatedProtocolVersion()}`;
  });
}
