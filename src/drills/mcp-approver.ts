import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/** Where a drill approves manual rollbacks: Failsafe's MCP endpoint, with an approver's token. */
export interface McpApprover {
  readonly mcpUrl: string;
  readonly token: string;
}

/**
 * Approves a rollback as an SRE's MCP client would: the `approve_rollback` tool, on the
 * 2026-07-28 protocol. Throws with Failsafe's own message when it refuses.
 */
export async function approveThroughMcp(approver: McpApprover, service: string, rollbackId: string): Promise<string> {
  const client = new Client(
    { name: 'failsafe-drill-runner', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(approver.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${approver.token}` } },
    }),
  );
  try {
    const result = await client.callTool({ name: 'approve_rollback', arguments: { service, rollbackId } });
    const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
    if (result.isError) throw new Error(`approve_rollback refused: ${text}`);
    const approvedBy = (result.structuredContent as { approvedBy?: string } | undefined)?.approvedBy;
    return `approved by ${approvedBy ?? 'the approver'} over MCP ${client.getNegotiatedProtocolVersion()}`;
  } finally {
    await client.close();
  }
}
