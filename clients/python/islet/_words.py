"""Commands as isletd splits them: blanks separate words, '...' and "..."
quote, no escapes, no shell (Daytona's rule).  The CLI mode splits a string
the same way, so a command means the same thing in both modes."""
from .errors import BadRequestError

_BLANKS = " \t\n\r"


def split(command):
    words, word, quote, in_word = [], [], None, False
    for c in command:
        if quote:
            if c == quote:
                quote = None
            else:
                word.append(c)
        elif c in _BLANKS:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif c in "'\"":
            quote, in_word = c, True
        else:
            word.append(c)
            in_word = True
    if quote:
        raise BadRequestError("command: unterminated %s quote" % quote, 400, "BAD_REQUEST")
    if in_word:
        words.append("".join(word))
    if not words:
        raise BadRequestError("command is empty", 400, "BAD_REQUEST")
    return words


def join(argv):
    """A list of words as one command that split() gives back."""
    out = []
    for w in argv:
        if w and not any(c in w for c in _BLANKS + "'\""):
            out.append(w)
        elif "'" not in w:
            out.append("'" + w + "'")
        elif '"' not in w:
            out.append('"' + w + '"')
        else:
            raise BadRequestError(
                "a word holds both quote characters, which the command syntax cannot carry: "
                "use ['sh', '-c', ...] with the word in a variable instead", 400, "BAD_REQUEST")
    return " ".join(out)


def command_words(command):
    """A command given as a string or a list, as a list of words."""
    if isinstance(command, str):
        return split(command)
    words = [str(w) for w in command]
    if not words:
        raise BadRequestError("command is empty", 400, "BAD_REQUEST")
    return words


def command_text(command):
    """A command given as a string or a list, as one string."""
    return command if isinstance(command, str) else join([str(w) for w in command])
