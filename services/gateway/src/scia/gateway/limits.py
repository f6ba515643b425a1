"""Protection against abusive queries: depth, aliases and operations per document (counted
with fragments expanded), the persisted-query safelist, and the list of validation rules
(Ariadne's cost validator included) applied to every operation.

Fragment expansion is computed per fragment once and combined arithmetically, so a document
whose fragments fan out exponentially is measured in linear time instead of being expanded.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ariadne.validation import cost_validator
from graphql import (
    DocumentNode,
    GraphQLSchema,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    parse,
    validate,
)
from graphql.validation import ValidationRule

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Measure:
    depth: int  # deepest field level under this selection set (0: no field)
    aliases: int


def measure_operations(document: DocumentNode, *, skip_introspection: bool = False) -> dict[str, Measure]:
    """Depth and alias count of each operation, fragments expanded."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Measure] = {}
    visiting: set[str] = set()

    def selection_set(node: SelectionSetNode | None) -> Measure:
        depth = aliases = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                if skip_introspection and selection.name.value in INTROSPECTION_FIELDS:
                    continue
                inner = selection_set(selection.selection_set)
                depth = max(depth, 1 + inner.depth)
                aliases += inner.aliases + (1 if selection.alias else 0)
            elif isinstance(selection, InlineFragmentNode):
                inner = selection_set(selection.selection_set)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
            elif isinstance(selection, FragmentSpreadNode):
                inner = fragment(selection.name.value)
                depth, aliases = max(depth, inner.depth), aliases + inner.aliases
        return Measure(depth, aliases)

    def fragment(name: str) -> Measure:
        if name in memo:
            return memo[name]
        if name in visiting or name not in fragments:
            return Measure(0, 0)  # a cycle or an unknown fragment: graphql's own rules report it
        visiting.add(name)
        memo[name] = selection_set(fragments[name].selection_set)
        visiting.discard(name)
        return memo[name]

    result = {}
    for index, definition in enumerate(document.definitions):
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else f"(anonymous, #{index + 1} in the document)"
            result[name] = selection_set(definition.selection_set)
    return result


def shape_rule(max_depth: int, max_aliases: int, max_operations: int, skip_introspection: bool) -> type[ValidationRule]:
    class ShapeLimits(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args) -> None:
            operations = measure_operations(node, skip_introspection=skip_introspection)
            if len(operations) > max_operations:
                self.report_error(GraphQLError(
                    f"The document holds {len(operations)} operations; at most {max_operations} are allowed.",
                    extensions={"code": "TOO_MANY_OPERATIONS"},
                ))
            for name, measure in operations.items():
                if measure.depth > max_depth:
                    self.report_error(GraphQLError(
                        f"Operation {name} is {measure.depth} levels deep (fragments expanded); "
                        f"the limit is {max_depth}.",
                        extensions={"code": "QUERY_TOO_DEEP"},
                    ))
                if measure.aliases > max_aliases:
                    self.report_error(GraphQLError(
                        f"Operation {name} uses {measure.aliases} aliases (fragments expanded); "
                        f"the limit is {max_aliases}.",
                        extensions={"code": "TOO_MANY_ALIASES"},
                    ))

    return ShapeLimits


# Costs of the fields that reach a backend; everything else costs the default 1. Lists multiply
# the cost of what is selected inside them by their `first`/`limit` argument.
COST_MAP = {
    "Query": {
        "deployments": {"complexity": 2, "multipliers": ["first"]},
        "similarDeployments": {"complexity": 5, "multipliers": ["limit"]},
        "analyzeRepository": {"complexity": 50},
        "previewPlan": {"complexity": 100},
        "costSummary": {"complexity": 5},
    },
    "Deployment": {"events": {"complexity": 2}, "feedback": {"complexity": 2}, "pastRevisions": {"complexity": 5}},
}


def validation_rules(
    *, max_depth: int, max_aliases: int, max_operations: int, max_cost: int, skip_introspection: bool
):
    """Ariadne's `validation_rules` callable: the cost validator needs each request's variables."""
    shape = shape_rule(max_depth, max_aliases, max_operations, skip_introspection)

    def rules(_context, _document, data: dict) -> list[type[ValidationRule]]:
        variables = data.get("variables") if isinstance(data, dict) else None
        cost = cost_validator(max_cost, default_cost=1, variables=variables or {}, cost_map=COST_MAP)
        cost.per_request = True  # depends on the variables: DocumentCache never caches its verdict
        return [shape, cost]

    return rules


class DocumentCache:
    """Parsed documents, and their validation by every rule that does not depend on variables,
    kept per query text: a UI sends the same few queries again and again, and parsing plus the
    ~30 spec rules cost more than executing a small query. Only the cost rule (it multiplies by
    `first`/`limit` variables) runs on each request. Both are pure functions of the text and the
    schema, so a cached verdict is the verdict. Bounded (LRU), and long texts are not kept.
    """

    def __init__(self, size: int = 128, max_query_chars: int = 16_384) -> None:
        self.size = size
        self.max_query_chars = max_query_chars
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._verdicts: dict[int, list[GraphQLError]] = {}  # id(document) -> static errors

    def parse(self, _context, data: dict) -> DocumentNode:
        text = data["query"]
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
            return document
        document = parse(text)
        if len(text) <= self.max_query_chars:
            self._documents[text] = document
            if len(self._documents) > self.size:
                _, evicted = self._documents.popitem(last=False)
                self._verdicts.pop(id(evicted), None)
        return document

    def validate(self, schema: GraphQLSchema, document: DocumentNode, rules, max_errors: int | None = None, **kwargs):
        per_request = [rule for rule in rules if getattr(rule, "per_request", False)]
        static = [rule for rule in rules if not getattr(rule, "per_request", False)]
        cached = self._documents.get(_text(document)) is document  # a verdict is kept only with its document
        errors = self._verdicts.get(id(document)) if cached else None
        if errors is None:
            errors = validate(schema, document, rules=static, max_errors=max_errors, **kwargs)
            if cached:
                self._verdicts[id(document)] = errors
        if errors or not per_request:
            return errors
        return validate(schema, document, rules=per_request, max_errors=max_errors, **kwargs)


def _text(document: DocumentNode) -> str:
    return document.loc.source.body if document.loc else ""


# --- persisted queries -----------------------------------------------------------------------

def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def load_safelist(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    entries = json.loads(path.read_text())
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: must be a JSON object {{sha256: query}}")
    for digest, query in entries.items():
        if query_hash(query) != digest:
            raise ValueError(f"{path}: the entry {digest[:12]}... is not the sha256 of its query")
    return entries


class PersistedQueryError(GraphQLError):
    pass


def resolve_persisted_query(data: dict, safelist: dict[str, str], only_safelisted: bool) -> dict:
    """Fill `query` from `extensions.persistedQuery.sha256Hash` (Apollo's shape) and enforce
    the safelist. Returns the request data to execute."""
    extension = ((data.get("extensions") or {}) if isinstance(data.get("extensions"), dict) else {}).get("persistedQuery")
    digest = extension.get("sha256Hash") if isinstance(extension, dict) else None
    query = data.get("query")
    if digest is not None:
        if not isinstance(digest, str):
            raise PersistedQueryError("persistedQuery.sha256Hash must be a string")
        if query:
            if query_hash(query) != digest:
                raise PersistedQueryError("persistedQuery.sha256Hash is not the sha256 of the query")
        elif digest in safelist:
            data = {**data, "query": safelist[digest]}
        else:
            raise PersistedQueryError(
                "PersistedQueryNotFound: no persisted query has this hash", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"}
            )
    if only_safelisted:
        text = data.get("query")
        if not isinstance(text, str) or query_hash(text) not in safelist:
            raise PersistedQueryError(
                "Only persisted queries are accepted here: send extensions.persistedQuery.sha256Hash of a safelisted query.",
                extensions={"code": "PERSISTED_QUERY_REQUIRED"},
            )
    return data
