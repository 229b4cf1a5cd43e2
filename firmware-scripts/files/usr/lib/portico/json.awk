# json.awk: a strict JSON reader for the Portico agent (busybox awk, POSIX awk).
#
# Usage: awk [-v hex=1] [-v root=object] [-v max_depth=N] -f json.awk [file]
#   hex=1        the input is one line of hex digits (mosquitto_sub -F %x) that decodes to the
#                document, so a payload with newlines or odd bytes still arrives as one line
#   root=TYPE    fail unless the document's top level is of this type (object, array, ...)
#   max_depth=N  fail when objects/arrays nest deeper than N (default 16)
#
# On success it prints one line per value below the top level, in document order:
#   path TAB type TAB value
#   path   keys joined by "." and array indexes as numbers: id, args.mac, caps.0
#   type   string, number, bool, null, object or array (objects and arrays have no value)
#   value  strings are decoded, except that a backslash, a control character or a non-ASCII
#          \u escape stays JSON-escaped (\\, \n, \u00e9): a value never holds a tab or newline.
#          Numbers are printed as written; bool is true/false.
# Anything that is not exactly one valid JSON document (unterminated strings, bad escapes,
# trailing characters, nesting too deep, duplicate keys or paths) prints nothing on stdout,
# a reason on stderr, and exits 1. Set LC_ALL=C so awk works on bytes.

BEGIN {
    if (max_depth == "") max_depth = 16
    if (hex != "") {
        # 00 is left out on purpose: a NUL byte is never valid in a JSON document.
        for (i = 1; i < 256; i++) byte[sprintf("%02x", i)] = sprintf("%c", i)
    }
}

{ text = (NR == 1) ? $0 : text "\n" $0 }

END {
    if (hex != "") {
        if (NR > 1) fail("hex input must be one line")
        text = unhex(text)
    }
    len = length(text)
    pos = 1
    nout = 0
    skip_ws()
    top = parse_value("", 0)
    skip_ws()
    if (pos <= len) fail("trailing characters")
    if (root != "" && top != root) fail("top level is " top ", not " root)
    for (i = 1; i <= nout; i++) print out[i]
}

function fail(msg) {
    printf "json.awk: %s at byte %d\n", msg, pos > "/dev/stderr"
    exit 1
}

function unhex(h,    i, n, s, pair) {
    h = tolower(h)
    n = length(h)
    if (n % 2) fail("odd number of hex digits")
    s = ""
    for (i = 1; i <= n; i += 2) {
        pair = substr(h, i, 2)
        if (!(pair in byte)) fail("bad hex byte " pair)
        s = s byte[pair]
    }
    return s
}

function skip_ws(    c) {
    while (pos <= len) {
        c = substr(text, pos, 1)
        if (c != " " && c != "\t" && c != "\n" && c != "\r") return
        pos++
    }
}

function emit(path, type, value) {
    # A repeated key, or a key with a dot that spells an existing path, would make a field
    # ambiguous: refuse the document.
    if (path in seen) fail("duplicate key " path)
    seen[path] = 1
    if (path != "") out[++nout] = path "\t" type "\t" value
}

function parse_value(path, depth,    c) {
    c = substr(text, pos, 1)
    if (c == "{") { emit(path, "object", ""); parse_object(path, depth); return "object" }
    if (c == "[") { emit(path, "array", ""); parse_array(path, depth); return "array" }
    if (c == "\"") { emit(path, "string", parse_string()); return "string" }
    if (c == "t") { literal("true"); emit(path, "bool", "true"); return "bool" }
    if (c == "f") { literal("false"); emit(path, "bool", "false"); return "bool" }
    if (c == "n") { literal("null"); emit(path, "null", ""); return "null" }
    if (c == "-" || (c != "" && index("0123456789", c))) {
        emit(path, "number", parse_number())
        return "number"
    }
    if (c == "") fail("unexpected end of input")
    fail("unexpected character")
}

function parse_object(path, depth,    key, c) {
    if (depth >= max_depth) fail("nested deeper than " max_depth)
    pos++
    skip_ws()
    if (substr(text, pos, 1) == "}") { pos++; return }
    while (pos <= len) {
        if (substr(text, pos, 1) != "\"") fail("expected a string key")
        key = parse_string()
        skip_ws()
        if (substr(text, pos, 1) != ":") fail("expected :")
        pos++
        skip_ws()
        parse_value(path == "" ? key : path "." key, depth + 1)
        skip_ws()
        c = substr(text, pos, 1)
        if (c == "}") { pos++; return }
        if (c != ",") fail("expected , or }")
        pos++
        skip_ws()
    }
    fail("unterminated object")
}

function parse_array(path, depth,    n, c) {
    if (depth >= max_depth) fail("nested deeper than " max_depth)
    pos++
    skip_ws()
    if (substr(text, pos, 1) == "]") { pos++; return }
    for (n = 0; pos <= len; n++) {
        parse_value(path == "" ? n : path "." n, depth + 1)
        skip_ws()
        c = substr(text, pos, 1)
        if (c == "]") { pos++; return }
        if (c != ",") fail("expected , or ]")
        pos++
        skip_ws()
    }
    fail("unterminated array")
}

function parse_string(    s, c, e) {
    pos++
    s = ""
    while (pos <= len) {
        c = substr(text, pos, 1)
        if (c == "\"") { pos++; return s }
        if (c < " ") fail("control character in string")
        if (c != "\\") { s = s c; pos++; continue }
        e = substr(text, pos + 1, 1)
        if (e == "\"" || e == "/") s = s e
        else if (e == "\\" || e == "b" || e == "f" || e == "n" || e == "r" || e == "t") s = s "\\" e
        else if (e == "u") { s = s unicode(substr(text, pos + 2, 4)); pos += 4 }
        else fail("bad escape")
        pos += 2
    }
    fail("unterminated string")
}

# Printable ASCII comes out as itself; anything else keeps its \uXXXX form.
function unicode(h,    code, i) {
    if (h !~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/) fail("bad \\u escape")
    h = tolower(h)
    code = 0
    for (i = 1; i <= 4; i++) code = code * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
    if (code >= 32 && code < 127 && code != 92) return sprintf("%c", code)
    return "\\u" h
}

function parse_number(    s) {
    if (!match(substr(text, pos), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/)) {
        fail("bad number")
    }
    s = substr(text, pos, RLENGTH)
    pos += RLENGTH
    return s
}

function literal(word) {
    if (substr(text, pos, length(word)) != word) fail("bad literal")
    pos += length(word)
}
