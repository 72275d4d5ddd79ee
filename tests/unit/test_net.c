/* A sandbox's network settings: the allow-list's parser (what is a CIDR,
 * what a name, what is refused), name matching for the DNS responder, and
 * the config.json round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <cmocka.h>

#include "islet/net.h"
#include "islet/util.h"

static int
parse (enum islet_net_mode mode, const char *list, struct islet_net_entry *e, unsigned *n,
       struct islet_err *err)
{
  struct islet_net net = { .mode = mode };
  snprintf (net.allow, sizeof net.allow, "%s", list);
  return islet_net_parse (&net, e, ISLET_NET_ENTRIES_MAX, n, err);
}

static void
test_entries (void **state)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err err;
  unsigned n;
  (void) state;

  assert_int_equal (
      parse (ISLET_NET_ALLOW, " 10.1.2.3/16 ,8.8.8.8,, Example.COM,*.pypi.org ", e, &n, &err), 0);
  assert_int_equal (n, 4);
  assert_true (e[0].is_cidr);
  assert_int_equal (e[0].prefix, 16);
  assert_int_equal (e[0].addr, inet_addr ("10.1.0.0")); /* host bits cleared */
  assert_int_equal (e[1].prefix, 32);
  assert_false (e[2].is_cidr);
  assert_string_equal (e[2].name, "example.com");
  assert_false (e[2].wildcard);
  assert_true (e[3].wildcard);
  assert_string_equal (e[3].name, "pypi.org");
}

static void
test_refused (void **state)
{
  static const struct
  {
    enum islet_net_mode mode;
    const char *list, *why;
  } cases[] = {
    { ISLET_NET_ALLOW, "", "needs an allow-list" },
    { ISLET_NET_ALL, "8.8.8.8", "needs network mode allow" },
    { ISLET_NET_NONE, "example.com", "needs network mode allow" },
    { ISLET_NET_ALLOW, "fd00::/8", "IPv6" },
    { ISLET_NET_ALLOW, "10.0.0.0/33", "neither" },
    { ISLET_NET_ALLOW, "localhost", "neither" }, /* one label: a search-domain lookup */
    { ISLET_NET_ALLOW, "a b.com", "neither" },
    { ISLET_NET_ALLOW, "*.*.com", "neither" },
    { ISLET_NET_ALLOW, "1.2.3", "neither" },
    { ISLET_NET_ALLOW, "-x.com", "neither" },
  };
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  (void) state;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct islet_err err = { 0 };
      unsigned n;
      assert_int_equal (parse (cases[i].mode, cases[i].list, e, &n, &err), -1);
      assert_int_equal (err.kind, ISLET_E_INVALID);
      if (strstr (err.msg, cases[i].why) == NULL)
        fail_msg ("`%s`: `%s` does not say `%s`", cases[i].list, err.msg, cases[i].why);
    }
}

static void
test_names (void **state)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err err;
  unsigned n;
  (void) state;

  assert_int_equal (parse (ISLET_NET_ALLOW, "example.com,*.pypi.org,10.0.0.0/8", e, &n, &err), 0);
  assert_true (islet_net_name_allowed (e, n, "example.com"));
  assert_true (islet_net_name_allowed (e, n, "EXAMPLE.com."));
  assert_false (islet_net_name_allowed (e, n, "www.example.com")); /* exact only */
  assert_false (islet_net_name_allowed (e, n, "badexample.com"));
  assert_true (islet_net_name_allowed (e, n, "files.pypi.org"));
  assert_true (islet_net_name_allowed (e, n, "a.b.pypi.org"));
  assert_false (islet_net_name_allowed (e, n, "pypi.org")); /* below it, not itself */
  assert_false (islet_net_name_allowed (e, n, "evilpypi.org"));
  assert_false (islet_net_name_allowed (e, n, "pypi.org.evil.com"));
  assert_false (islet_net_name_allowed (e, n, "10.0.0.1"));
  assert_false (islet_net_name_allowed (e, n, ""));
}

static void
test_json (void **state)
{
  struct islet_net a = { .mode = ISLET_NET_ALLOW }, b;
  struct islet_err err;
  json_t *j;
  (void) state;

  snprintf (a.allow, sizeof a.allow, "10.1.2.3/16,example.com");
  j = islet_net_json (&a);
  assert_string_equal (json_string_value (json_object_get (j, "mode")), "allow");
  assert_string_equal (json_string_value (json_array_get (json_object_get (j, "allow"), 0)),
                       "10.1.0.0/16");
  assert_int_equal (islet_net_read (j, &b, &err), 0);
  assert_int_equal (b.mode, ISLET_NET_ALLOW);
  assert_string_equal (b.allow, "10.1.0.0/16,example.com");
  json_decref (j);
  assert_int_equal (islet_net_read (NULL, &b, &err), 0); /* an old config: none */
  assert_int_equal (b.mode, ISLET_NET_NONE);
  j = json_pack ("{s:s,s:[s]}", "mode", "all", "allow", "example.com");
  assert_int_equal (islet_net_read (j, &b, &err), -1); /* a list needs mode allow */
  json_decref (j);
}

static bool
reach (const struct islet_net *n, const char *host)
{
  static const struct islet_net_words words = { "all", "cidrs", "names" };
  struct islet_err err;

  return islet_net_proxy_reach (n, host, &words, &err) == 0;
}

static void
test_proxy (void **state)
{
  static const struct
  {
    const char *url, *host; /* host NULL: refused */
  } cases[] = {
    { "http://proxy.example.com:3128", "proxy.example.com" },
    { "HTTPS://User:pw@10.0.0.5:8080/path", "10.0.0.5" },
    { "http://[::1]:3128/", "::1" },
    { "http://Proxy.Example.com", "proxy.example.com" },
    { "socks5://proxy.example.com:1080", NULL },
    { "proxy.example.com:3128", NULL },
    { "http://", NULL },
    { "http://:3128", NULL },
    { "http://proxy.example.com:0", NULL },
    { "http://proxy.example.com:70000", NULL },
    { "http://proxy.example.com:31x8", NULL },
    { "http://proxy.example.com/a b", NULL },
    { "http://proxy.example.com/\"$(id)\"", NULL },
    { "http://proxy.example.com\n", NULL },
    { "http://[::1", NULL },
  };
  struct islet_net all = { .mode = ISLET_NET_ALL }, none = { 0 };
  struct islet_net list = { .mode = ISLET_NET_ALLOW, .allow = "10.0.0.0/24,proxy.example.com" };
  (void) state;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct islet_err err = { 0 };
      char host[256] = "";
      int rc = islet_net_proxy_parse (cases[i].url, host, &err);
      if (cases[i].host == NULL && rc == 0)
        fail_msg ("`%s` was taken", cases[i].url);
      if (cases[i].host != NULL && rc != 0)
        fail_msg ("`%s` was refused: %s", cases[i].url, err.msg);
      if (cases[i].host != NULL)
        assert_string_equal (host, cases[i].host);
    }
  assert_true (reach (&list, "proxy.example.com"));
  assert_true (reach (&list, "10.0.0.9"));
  assert_false (reach (&list, "10.0.1.9"));
  assert_false (reach (&list, "other.example.com"));
  assert_true (reach (&all, "other.example.com"));
  assert_false (reach (&none, "proxy.example.com"));
  assert_false (reach (&none, "127.0.0.1"));
}

/* What the filter drops whatever the list (net_filter.c writes its rules
 * from the same table): a proxy there is refused, with the reason. */
static void
test_proxy_reach (void **state)
{
  static const struct islet_net all = { .mode = ISLET_NET_ALL };
  static const struct islet_net wide = { .mode = ISLET_NET_ALLOW, .allow = "0.0.0.0/0" };
  static const struct islet_net priv = { .mode = ISLET_NET_ALLOW,
                                         .allow = "10.77.0.0/24,172.16.0.0/12" };
  static const struct
  {
    const struct islet_net *net;
    const char *host;
    const char *why; /* NULL: reachable */
  } cases[] = {
    { &all, "203.0.113.10", NULL },
    { &all, "proxy.example.com", NULL },
    { &all, "10.77.0.10", "add 10.77.0.10/32 to CIDRS" },
    { &all, "192.168.1.1", "inside 192.168.0.0/16" },
    { &all, "100.64.0.1", "inside 100.64.0.0/10" },
    { &all, "172.31.255.254", "inside 172.16.0.0/12" },
    { &all, "127.0.0.1", "loopback" },
    { &all, "localhost", "loopback" },
    { &all, "a.localhost", "loopback" },
    { &all, "169.254.169.254", "metadata" },
    { &all, "100.96.0.1", "islet's own range" },
    { &all, "0.0.0.0", "this network" },
    { &all, "::1", "IPv6" },
    { &all, "2001:db8::1", "IPv6" },
    { &wide, "203.0.113.10", NULL },
    { &wide, "10.77.0.10", "add 10.77.0.10/32" },
    { &priv, "10.77.0.10", NULL },
    { &priv, "172.20.0.1", NULL },
    { &priv, "10.78.0.1", "add 10.78.0.1/32" },
    { &priv, "203.0.113.10", "allow-list does not name it" },
    { &priv, "127.0.0.1", "loopback" },
  };
  static const struct islet_net_words words = { "ALL", "CIDRS", "NAMES" };
  (void) state;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct islet_err err = { 0 };
      int rc = islet_net_proxy_reach (cases[i].net, cases[i].host, &words, &err);
      if (cases[i].why == NULL && rc != 0)
        fail_msg ("`%s` refused: %s", cases[i].host, err.msg);
      if (cases[i].why != NULL && (rc == 0 || strstr (err.msg, cases[i].why) == NULL))
        fail_msg ("`%s`: want a refusal with `%s`, got %d `%s`", cases[i].host, cases[i].why, rc,
                  err.msg);
    }
  /* set_proxy: checked, then kept; "" clears */
  {
    struct islet_net n = { .mode = ISLET_NET_ALL };
    struct islet_err err = { 0 };
    assert_int_equal (islet_net_set_proxy (&n, "http://10.0.0.1:3128", &words, &err), -1);
    assert_string_equal (n.proxy, "");
    assert_int_equal (islet_net_set_proxy (&n, "http://203.0.113.10:3128", &words, &err), 0);
    assert_string_equal (n.proxy, "http://203.0.113.10:3128");
    assert_int_equal (islet_net_set_proxy (&n, "", &words, &err), 0);
    assert_string_equal (n.proxy, "");
  }
  /* an address of this host (any but loopback's), whatever the list */
  {
    struct ifaddrs *ifs, *i;
    assert_int_equal (getifaddrs (&ifs), 0);
    for (i = ifs; i; i = i->ifa_next)
      {
        char a[INET_ADDRSTRLEN];
        struct islet_err err = { 0 };
        struct islet_net open_all = { .mode = ISLET_NET_ALLOW, .allow = "0.0.0.0/1,128.0.0.0/1" };
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
          continue;
        inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, a, sizeof a);
        if (strncmp (a, "127.", 4) == 0)
          continue;
        assert_int_equal (islet_net_proxy_reach (&all, a, &words, &err), -1);
        assert_non_null (strstr (err.msg, "this host"));
        assert_int_equal (islet_net_proxy_reach (&open_all, a, &words, &err), -1);
        assert_non_null (strstr (err.msg, "this host"));
      }
    freeifaddrs (ifs);
  }
}

static void
test_proxy_json (void **state)
{
  struct islet_net a = { .mode = ISLET_NET_NONE, .proxy = "http://10.0.0.5:3128" }, b;
  struct islet_err err;
  json_t *j;
  (void) state;

  j = islet_net_json (&a);
  assert_int_equal (islet_net_read (j, &b, &err), 0);
  assert_string_equal (b.proxy, "http://10.0.0.5:3128");
  assert_true (islet_net_equal (&a, &b));
  json_decref (j);
  j = islet_net_json (&(struct islet_net){ .mode = ISLET_NET_ALL });
  assert_null (json_object_get (j, "proxy")); /* no proxy: no key, as in older configs */
  json_decref (j);
  j = json_pack ("{s:s,s:s}", "mode", "all", "proxy", "ftp://x.example.com");
  assert_int_equal (islet_net_read (j, &b, &err), -1);
  json_decref (j);
}

/* The one reading of a mode and a list that the CLI, /v1, MCP and the
 * create body's `network` share. */
static void
test_ask (void **state)
{
  const char *list[] = { "10.1.0.0/16", "example.com" };
  struct islet_net n;
  struct islet_err err;
  json_t *arr;
  (void) state;

  assert_int_equal (islet_net_ask (NULL, list, 2, ISLET_NET_NONE, &n, &err), 0);
  assert_int_equal (n.mode, ISLET_NET_ALLOW); /* a list alone */
  assert_string_equal (n.allow, "10.1.0.0/16,example.com");
  assert_int_equal (islet_net_ask (NULL, NULL, 0, ISLET_NET_ALL, &n, &err), 0);
  assert_int_equal (n.mode, ISLET_NET_ALL); /* neither: the default */
  assert_int_equal (islet_net_ask ("none", NULL, 0, ISLET_NET_ALL, &n, &err), 0);
  assert_int_equal (n.mode, ISLET_NET_NONE);
  assert_int_equal (islet_net_ask ("all", list, 2, ISLET_NET_NONE, &n, &err), -1);
  assert_int_equal (islet_net_ask ("some", NULL, 0, ISLET_NET_NONE, &n, &err), -1);
  arr = json_pack ("[s,s]", "10.1.0.0/16", "example.com");
  assert_int_equal (islet_net_ask_json ("allow", arr, ISLET_NET_NONE, &n, &err), 0);
  assert_string_equal (n.allow, "10.1.0.0/16,example.com");
  json_decref (arr);
  arr = json_pack ("[s,i]", "example.com", 3);
  assert_int_equal (islet_net_ask_json (NULL, arr, ISLET_NET_NONE, &n, &err), -1);
  assert_non_null (strstr (err.msg, "not a string"));
  json_decref (arr);
  arr = json_string ("example.com");
  assert_int_equal (islet_net_ask_json (NULL, arr, ISLET_NET_NONE, &n, &err), -1);
  json_decref (arr);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_entries),    cmocka_unit_test (test_refused),
    cmocka_unit_test (test_names),      cmocka_unit_test (test_json),
    cmocka_unit_test (test_proxy),      cmocka_unit_test (test_proxy_reach),
    cmocka_unit_test (test_proxy_json), cmocka_unit_test (test_ask),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
