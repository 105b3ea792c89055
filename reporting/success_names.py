"""A reader's name for one successful completion of a feature ("resolved ticket").

The mart has cost per success per feature but not what "success" means to the business, so
the name comes from the words of the feature name (split at `_`, `-`, `.`, spaces and
camelCase; a word matches when it starts with one of these), first rule wins:

| a word of the feature starts with             | one success is called      |
|-----------------------------------------------|----------------------------|
| support, ticket, helpdesk, customer           | resolved ticket            |
| search, retriev, rag, lookup                  | successful search          |
| summar                                        | accepted summary           |
| code, review, pull, commit                    | accepted code review       |
| translat                                      | accepted translation       |
| extract, classif, tagging, parse              | correct extraction         |
| email                                         | accepted email             |
| draft, reply, writ, copy                      | accepted draft             |
| embed                                         | embedded document          |
| eval, grade, judge                            | passing evaluation         |
| chat, assistant, copilot, agent, bot          | successful conversation    |
| anything else                                 | successful <feature> request |
"""

import re

RULES: list[tuple[tuple[str, ...], str]] = [
    (("support", "ticket", "helpdesk", "customer"), "resolved ticket"),
    (("search", "retriev", "rag", "lookup"), "successful search"),
    (("summar",), "accepted summary"),
    (("code", "review", "pull", "commit"), "accepted code review"),
    (("translat",), "accepted translation"),
    (("extract", "classif", "tagging", "parse"), "correct extraction"),
    (("email",), "accepted email"),
    (("draft", "reply", "writ", "copy"), "accepted draft"),
    (("embed",), "embedded document"),
    (("eval", "grade", "judge"), "passing evaluation"),
    (("chat", "assistant", "copilot", "agent", "bot"), "successful conversation"),
]


def success_name(feature: str) -> str:
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", feature).lower())
    for prefixes, name in RULES:
        if any(word.startswith(prefixes) for word in words if word):
            return name
    return f"successful {feature} request"


def cost_per_success_label(feature: str) -> str:
    return f"Cost per {success_name(feature)}"
