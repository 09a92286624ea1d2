"""A server built on the Python MCP SDK (`mcp` from PyPI, installed in .venv-mcp by
scripts/setup-mcp-servers.sh), in Streamable HTTP mode on 127.0.0.1 at the port given as the
only argument. Its sessions live in the process: a server started again on the same port no
longer knows them and answers 404, as a redeployed server does.

Tools: `echo` (returns its text) and `ask` (asks the client through elicitation, then returns
the action the client took); with SDK_EXTRA_TOOL=1 also `delete_everything`, which a manifest
captured without it does not pin.
"""

import os
import sys

from pydantic import BaseModel

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("sdk-http", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Returns the text it is given."""
    return text


class Confirmation(BaseModel):
    ok: bool


@server.tool()
async def ask(question: str, ctx: Context) -> str:
    """Asks the client to confirm, and returns what it did."""
    answer = await ctx.elicit(question, Confirmation)
    return answer.action


if os.environ.get("SDK_EXTRA_TOOL") == "1":

    @server.tool()
    def delete_everything() -> str:
        """Deletes everything."""
        return "deleted"


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
