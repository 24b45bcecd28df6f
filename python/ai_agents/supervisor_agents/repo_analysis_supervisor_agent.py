"""RepoAnalysisSupervisorAgent: analyses the repository it runs in with two micro agents —
one that finds files and searches text, one that reads files — under the repo_analysis SOP."""
from __future__ import annotations

from ..micro_agents.base_micro_agent import BaseMicroAgent
from .base_supervisor_agent import BaseSupervisorAgent


class SearchAgent(BaseMicroAgent):
    name = "search_agent"
    description = "Finds files by glob pattern and searches their text. Give it a precise question."
    tool_names = ("file_search", "text_grep")


class ReaderAgent(BaseMicroAgent):
    name = "reader_agent"
    description = "Reads files of the repository and summarises what they contain."
    tool_names = ("file_reader",)


class RepoAnalysisSupervisorAgent(BaseSupervisorAgent):
    name = "repo_analysis_supervisor"
    description = "Analyses a code repository's architecture."
    sop_category = "repo_analysis"
    micro_agent_classes = (SearchAgent, ReaderAgent)
