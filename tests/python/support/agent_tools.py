"""Small real tools for the agents under test."""
from smolagents import Tool, tool


@tool
def file_reader(path: str) -> str:
    """Reads a (pretend) file.

    Args:
        path: The file to read.
    """
    return f"contents of {path}"


@tool
def broken_tool(path: str) -> str:
    """A tool that always fails.

    Args:
        path: Ignored.
    """
    raise ValueError(f"cannot read {path}")


class WordCounter(Tool):
    name = "word_counter"
    description = "Counts the words of a text."
    inputs = {"text": {"type": "string", "description": "The text."}}
    output_type = "integer"

    def forward(self, text: str) -> int:
        return len(text.split())


def tool_without_inputs(tool_name, body):
    """A Tool that takes no input and returns body()."""
    def forward(self):
        return body()

    attributes = {"name": tool_name, "description": f"The {tool_name} tool.", "inputs": {},
                  "output_type": "string", "forward": forward}
    return type(tool_name.title(), (Tool,), attributes)()
