/* API keys: random, shown once, stored only as their SHA-256. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "server.h"

static void
to_hex (const unsigned char *b, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = digits[b[i] >> 4];
      out[2 * i + 1] = digits[b[i] & 15];
    }
  out[2 * n] = '\0';
}

void
key_hash (const char *key, char hex[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  /* SHA-256 cannot fail on a valid digest and memory; abort rather than
   * compare against garbage */
  if (EVP_Digest (key, strlen (key), md, &n, EVP_sha256 (), NULL) != 1 || n != 32)
    abort ();
  to_hex (md, 32, hex);
}

int
key_generate (char key[64], struct islet_err *err)
{
  unsigned char raw[24];
  size_t got = 0;

  while (got < sizeof raw)
    {
      ssize_t n = getrandom (raw + got, sizeof raw - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
      got += (size_t) n;
    }
  memcpy (key, "islet_", 6);
  to_hex (raw, sizeof raw, key + 6);
  return 0;
}
