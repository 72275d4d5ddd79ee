/* The Python import policy of /v1/execute (docs/SECURITY.md says what it
 * is and is not).  Two programs, written into the sandbox beside the code:
 *
 * - the checker reads the code's syntax tree with Python's `ast` and lists
 *   every import outside the policy and every use of exec, eval, open,
 *   getattr and the like, with its line; the code then does not run.  It is
 *   the early, readable report.
 * - the guard installs an audit hook (sys.addaudithook) and then runs the
 *   code in the same interpreter.  The hook refuses what the policy
 *   promises away however the code reaches it (attribute chains, builtins
 *   found through an allowed module): processes, file-system writes,
 *   sockets, native code, and imports outside the policy made by the code
 *   (and modules that write files or load code without an audit event:
 *   never, by anyone).
 *   Python offers no way to remove an audit hook; the hook keeps its state
 *   in its own default arguments (immutable values, and changing a
 *   function's defaults or code is itself refused), so the code cannot
 *   reach in and change it either.
 *
 * Both take the mode ("allow": only the listed top-level modules; "deny":
 * anything but the listed ones) and the list, comma-separated. */
#include "v1.h"

/* enable_ast_validation without allowed_imports: these, denied.  What
 * starts processes, opens the network, changes files, loads native code
 * or reaches the import machinery and the interpreter's internals. */
static const char deny_default[]
    = "os,posix,subprocess,_posixsubprocess,pty,signal,multiprocessing,socket,_socket,ssl,"
      "shutil,tempfile,pathlib,fcntl,mmap,resource,ctypes,_ctypes,cffi,importlib,imp,_imp,"
      "pkgutil,runpy,zipimport,builtins,gc,code,codeop,marshal,pickle,_pickle,shelve";

const char *
v1_policy_mode_name (enum v1_policy_mode m)
{
  return m == V1_POLICY_DENY ? "deny" : "allow";
}

const char *
v1_policy_list (enum v1_policy_mode m, const char *imports)
{
  return m == V1_POLICY_DENY ? deny_default : imports;
}

/* argv: program, mode, list.  One line per violation, exit 3 if any. */
const char v1_policy_checker[]
    = "import ast, sys\n"
      "src = open(sys.argv[1], encoding='utf-8').read()\n"
      "deny = sys.argv[2] == 'deny'\n"
      "listed = set(x for x in sys.argv[3].split(',') if x)\n"
      "banned = {'exec', 'eval', 'compile', 'open', '__import__', 'globals', 'locals',\n"
      "          'vars', 'getattr', 'setattr', 'delattr', '__builtins__', 'breakpoint'}\n"
      "def refused(name):\n"
      "    return (name.split('.')[0] in listed) == deny\n"
      "try:\n"
      "    tree = ast.parse(src)\n"
      "except SyntaxError as e:\n"
      "    print('line %s: syntax error: %s' % (e.lineno, e.msg)); sys.exit(3)\n"
      "bad = []\n"
      "for node in ast.walk(tree):\n"
      "    if isinstance(node, ast.Import):\n"
      "        for a in node.names:\n"
      "            if refused(a.name):\n"
      "                bad.append((node.lineno, 'import of %s is not allowed' % a.name))\n"
      "    elif isinstance(node, ast.ImportFrom):\n"
      "        if node.level or refused(node.module or ''):\n"
      "            bad.append((node.lineno, 'import from %s is not allowed' % ('.' * node.level + "
      "(node.module or ''))))\n"
      "    elif isinstance(node, ast.Name) and node.id in banned:\n"
      "        bad.append((node.lineno, 'use of %s is not allowed' % node.id))\n"
      "    elif isinstance(node, ast.Attribute) and node.attr in banned:\n"
      "        bad.append((node.lineno, 'use of .%s is not allowed' % node.attr))\n"
      "    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in "
      "banned:\n"
      "        bad.append((node.lineno, 'the name %r is not allowed' % node.value))\n"
      "for line, what in sorted(bad):\n"
      "    print('line %d: %s' % (line, what))\n"
      "sys.exit(3 if bad else 0)\n";

/* argv: mode, list, program.  Runs the program as __main__ under the hook. */
const char v1_policy_guard[]
    = "import os, sys, traceback\n"
      "\n"
      "def _guard(mode, listed, program):\n"
      "    listed = frozenset(x for x in listed.split(',') if x)\n"
      "    # loaded by nobody: they reach around the hook (native calls, other\n"
      "    # interpreters, a fork and exec that raise no event)\n"
      "    never = frozenset(('ctypes', '_ctypes', 'cffi', '_cffi_backend', '_posixsubprocess',\n"
      "        '_xxsubinterpreters', '_xxinterpchannels', '_interpreters', '_interpchannels',\n"
      "        '_interpqueues', '_testcapi', '_testinternalcapi', '_testbuffer',\n"
      "        '_testmultiphase', '_testsinglephase', '_testimportmultiple', '_testclinic',\n"
      "        '_xxtestfuzz', '_ctypes_test', '_lsprof', '_posixshmem', '_dbm', '_gdbm',\n"
      "        'readline', 'ossaudiodev'))\n"
      "    refused = frozenset(('subprocess.Popen', 'os.system', 'os.exec', 'os.posix_spawn',\n"
      "        'os.spawn', 'os.fork', 'os.forkpty', 'os.startfile', 'os.kill', 'os.killpg',\n"
      "        'os.remove', 'os.rmdir', 'os.rename', 'os.mkdir', 'os.symlink', 'os.link',\n"
      "        'os.chmod', 'os.chown', 'os.truncate', 'os.utime', 'os.setxattr',\n"
      "        'os.removexattr', 'os.chflags', 'os.lchflags',\n"
      "        'code.__new__', 'marshal.load', 'sys.settrace', 'sys.setprofile',\n"
      "        'gc.get_objects', 'gc.get_referrers', 'gc.get_referents', 'sys.remote_exec',\n"
      "        'cpython.PyInterpreterState_New', 'sqlite3.connect',\n"
      "        'sqlite3.enable_load_extension', 'sqlite3.load_extension'))\n"
      "    prefixes = ('socket.', 'ctypes.', 'shutil.', 'sys.monitoring.', 'winreg.')\n"
      "    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND\n"
      "    stdlib = os.path.dirname(os.__file__) + '/'\n"
      "    machinery = ('<frozen importlib', stdlib + 'importlib/')\n"
      "    library = ('<frozen ', stdlib, sys.prefix + '/lib/', sys.base_prefix + '/lib/',\n"
      "               '/usr/lib/', '/usr/local/lib/')\n"
      "    tamper = frozenset(('__code__', '__defaults__', '__kwdefaults__'))\n"
      "    imp = sys.modules['_imp']\n"
      "\n"
      "    # a built-in module made anew raises no import event: posix would have\n"
      "    # back what is taken out below, _posixsubprocess would fork and exec\n"
      "    def create_builtin(spec, create=imp.create_builtin, never=never | {'posix', '_imp'},\n"
      "                       spec_type=type(sys.implementation), type=type, split=str.split,\n"
      "                       ImportError=ImportError):\n"
      "        name = spec.name\n"
      "        if type(name) is not str or not never.isdisjoint(split(name, '.')):\n"
      "            raise ImportError('islet policy: the module %s is never loaded' % name)\n"
      "        return create(spec_type(name=name))\n"
      "    imp.create_builtin = create_builtin\n"
      "\n"
      "    def hook(event, args, listed=listed, deny=(mode == 'deny'), never=never,\n"
      "             refused=refused, prefixes=prefixes, writing=writing, machinery=machinery,\n"
      "             library=library, tamper=tamper, shield=create_builtin,\n"
      "             getframe=sys._getframe, int=int, str=str,\n"
      "             type=type, startswith=str.startswith, partition=str.partition,\n"
      "             split=str.split,\n"
      "             ImportError=ImportError, PermissionError=PermissionError):\n"
      "        if event == 'open':\n"
      "            if type(args[2]) is int and args[2] & writing:\n"
      "                what = args[0] if type(args[0]) is str else 'a file'\n"
      "                raise PermissionError('islet policy: opening %s for writing is not "
      "allowed' % what)\n"
      "            return\n"
      "        if event == 'import':\n"
      "            name = args[0] if type(args[0]) is str else ''\n"
      "            top = partition(name, '.')[0]\n"
      "            # any part: an extension's init function is named by the last\n"
      "            if not never.isdisjoint(split(name, '.')):\n"
      "                raise ImportError('islet policy: the module %s is never loaded' % name)\n"
      "            if (top in listed) != deny:\n"
      "                return\n"
      "            # refused if the import is the program's own, not a library's\n"
      "            f = getframe(0).f_back\n"
      "            while f is not None and startswith(f.f_code.co_filename, machinery):\n"
      "                f = f.f_back\n"
      "            if f is None or not startswith(f.f_code.co_filename, library):\n"
      "                raise ImportError('islet policy: import of %s is not allowed' % name)\n"
      "            return\n"
      "        if event == 'marshal.loads':\n"
      "            # the import system reads compiled modules with it\n"
      "            f = getframe(0).f_back\n"
      "            if f is None or not startswith(f.f_code.co_filename, machinery):\n"
      "                raise PermissionError('islet policy: marshal.loads is not allowed')\n"
      "            return\n"
      "        if event in refused or startswith(event, prefixes):\n"
      "            raise PermissionError('islet policy: %s is not allowed' % event)\n"
      "        if (event == 'object.__setattr__' or event == 'object.__delattr__') \\\n"
      "                and type(args[1]) is str and args[1] in tamper:\n"
      "            raise PermissionError('islet policy: changing a function\\'s %s is not "
      "allowed' % args[1])\n"
      "        # the one function whose defaults hold what the policy keeps away\n"
      "        if event == 'object.__getattr__' and args[0] is shield:\n"
      "            raise PermissionError('islet policy: reading the guard is not allowed')\n"
      "\n"
      "    sys.addaudithook(hook)\n"
      "    # calls that change files without an audit event: gone\n"
      "    for m in (os, sys.modules.get('posix')):\n"
      "        for name in ('mkfifo', 'mknod'):\n"
      "            m.__dict__.pop(name, None)\n"
      "    with open(program, 'rb') as f:\n"
      "        code = compile(f.read(), program, 'exec')\n"
      "    main = type(sys)('__main__')\n"
      "    main.__file__ = program\n"
      "    main.__builtins__ = __builtins__\n"
      "    sys.modules['__main__'] = main\n"
      "    sys.argv = [program]\n"
      "    sys.path.insert(0, os.path.dirname(program))\n"
      "    return code, main.__dict__\n"
      "\n"
      "_code, _globals = _guard(*sys.argv[1:4])\n"
      "del _guard\n"
      "try:\n"
      "    exec(_code, _globals)\n"
      "except SystemExit:\n"
      "    raise\n"
      "except BaseException as e:\n"
      "    # the program's traceback, without this file's frame\n"
      "    traceback.print_exception(type(e), e, e.__traceback__.tb_next)\n"
      "    sys.exit(1)\n";
