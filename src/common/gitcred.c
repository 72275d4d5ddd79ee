/* The credential wrapper of include/islet/gitcred.h. */
#include "islet/gitcred.h"

const char islet_git_askpass_sh[]
    = "h=$(umask 077 && mktemp /tmp/.islet-askpass.XXXXXX) || exit 125\n"
      "trap 'rm -f -- \"$h\"' EXIT\n"
      "printf '%s\\n' '#!/bin/sh' 'case \"$1\" in [Uu]sername*) printf \"%s\\n\" "
      "\"$ISLET_GIT_USERNAME\";; *) printf \"%s\\n\" \"$ISLET_GIT_PASSWORD\";; esac' >\"$h\" "
      "&& chmod 700 \"$h\" || exit 125\n"
      "GIT_ASKPASS=$h git -c credential.helper= \"$@\"\n";
