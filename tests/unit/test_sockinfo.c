/* test_sockinfo.c — unit tests of sockinfo's library parts: JSON string
 * escaping, the sock_diag device encoding, and the POSIX ACL parser and
 * permission rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "check.h"
#include "core/diag.h"
#include "core/json.h"
#include "inspect/perm.h"

/* json_quote(IN) writes exactly WANT. */
static void quote(const char *in, const char *want)
{
	char buf[256] = "";
	FILE *f = fmemopen(buf, sizeof buf - 1, "w");
	json_quote(f, in);
	fclose(f);
	CHECK(!strcmp(buf, want), "json_quote: got %s, want %s", buf, want);
}

static void test_json(void)
{
	quote("plain", "\"plain\"");
	quote("a\"b\\c", "\"a\\\"b\\\\c\"");
	quote("t\tn\nr\r", "\"t\\tn\\nr\\r\"");
	quote("\001\037\177", "\"\\u0001\\u001f\\u007f\"");
	quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	quote("bad\xff", "\"bad\\ufffd\"");
	quote("\xc3", "\"\\ufffd\"");               /* truncated sequence */
	quote("\xc0\xaf", "\"\\ufffd\\ufffd\"");     /* overlong */
	quote("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */

	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof buf - 1, "w");
	struct json j;
	json_init(&j, f, 1);
	json_begin_array(&j);
	json_begin_object(&j);
	json_key(&j, "a");
	json_int(&j, -5);
	json_key(&j, "b");
	json_begin_array(&j);
	json_bool(&j, 1);
	json_null(&j);
	json_str(&j, NULL);
	json_end_array(&j);
	json_end_object(&j);
	json_begin_object(&j);
	json_end_object(&j);
	json_end_array(&j);
	fclose(f);
	CHECK(!strcmp(buf, "[\n{\"a\":-5,\"b\":[true,null,null]},\n{}\n]\n"),
	      "json writer: got %s", buf);
}

static void test_dev(void)
{
	/* the kernel keeps MAJOR << 20 | MINOR; stat(2) encodes differently */
	CHECK(diag_dev_match(254u << 20, makedev(254, 0)), "254:0");
	CHECK(diag_dev_match(27, makedev(0, 27)), "0:27 (tmpfs)");
	CHECK(diag_dev_match(8u << 20 | 300, makedev(8, 300)), "8:300");
	CHECK(!diag_dev_match(0xfe00, makedev(254, 0)), "raw st_dev is not the kernel's");
	CHECK(!diag_dev_match(27, makedev(0, 28)), "0:28 is not 0:27");
}

/* An ACL blob: version 2, then N entries TAG, PERM, ID. */
static size_t acl_blob(unsigned char *b, const unsigned (*e)[3], int n)
{
	size_t off = 4;
	memset(b, 0, 4);
	b[0] = 2;
	for (int i = 0; i < n; i++, off += 8) {
		b[off] = (unsigned char)e[i][0];
		b[off + 1] = (unsigned char)(e[i][0] >> 8);
		b[off + 2] = (unsigned char)e[i][1];
		b[off + 3] = 0;
		for (int k = 0; k < 4; k++)
			b[off + 4 + k] = (unsigned char)(e[i][2] >> (8 * k));
	}
	return off;
}

static void test_acl(void)
{
	unsigned char b[128];
	struct perm_acl acl;
	char why[256];
	struct perm_user alice = { .uid = 1000, .gid = 1000, .ngroups = 2,
				   .groups = (gid_t[]){ 1000, 50 } };
	struct perm_user bob = { .uid = 1001, .gid = 1001, .ngroups = 1,
				 .groups = (gid_t[]){ 1001 } };
	struct perm_user root = { .uid = 0, .gid = 0 };
	const unsigned rules[][3] = {
		{ PERM_ACL_USER_OBJ, 6, ~0u }, { PERM_ACL_USER, 6, 1001 },
		{ PERM_ACL_GROUP_OBJ, 0, ~0u }, { PERM_ACL_GROUP, 2, 50 },
		{ PERM_ACL_MASK, 6, ~0u }, { PERM_ACL_OTHER, 0, ~0u },
	};
	size_t len = acl_blob(b, rules, 6);

	CHECK(perm_acl_parse(&acl, b, len) == 0 && acl.n == 6, "parse");
	CHECK(acl.e[1].tag == PERM_ACL_USER && acl.e[1].id == 1001 && acl.e[1].perm == 6,
	      "entry 1");
	CHECK(perm_acl_parse(&acl, b, len - 1) < 0, "odd length refused");
	b[0] = 1;
	CHECK(perm_acl_parse(&acl, b, len) < 0, "version 1 refused");
	b[0] = 2;
	perm_acl_parse(&acl, b, len);

	/* bob: the named user entry, within the mask */
	CHECK(perm_eval(&bob, 0660, 0, 0, &acl, 2, why, sizeof why) == 1, "bob w");
	CHECK(strstr(why, "ACL entry for user") != NULL, "bob why: %s", why);
	/* alice: group 50 has w */
	CHECK(perm_eval(&alice, 0660, 0, 0, &acl, 2, why, sizeof why) == 1, "alice w");
	CHECK(strstr(why, "group") != NULL, "alice why: %s", why);
	/* alice wants rw: group 50 lacks r, the owning group lacks all: no */
	CHECK(perm_eval(&alice, 0660, 0, 0, &acl, 6, why, sizeof why) == 0, "alice rw");
	/* owner: the owner entry */
	CHECK(perm_eval(&alice, 0660, 1000, 0, &acl, 6, why, sizeof why) == 1, "owner");
	CHECK(perm_eval(&root, 0, 5, 5, &acl, 2, why, sizeof why) == 1, "root");

	/* a mask without w cuts the named user's w */
	const unsigned masked[][3] = {
		{ PERM_ACL_USER_OBJ, 6, ~0u }, { PERM_ACL_USER, 6, 1001 },
		{ PERM_ACL_GROUP_OBJ, 0, ~0u }, { PERM_ACL_MASK, 4, ~0u },
		{ PERM_ACL_OTHER, 0, ~0u },
	};
	perm_acl_parse(&acl, b, acl_blob(b, masked, 5));
	CHECK(perm_eval(&bob, 0640, 0, 0, &acl, 2, why, sizeof why) == 0, "masked");
	CHECK(strstr(why, "mask r--") != NULL, "masked why: %s", why);

	/* mask ---: the group bits are 0 and the kernel leaves the ACL
	 * aside; the others bits decide for a named user too */
	const unsigned nomask[][3] = {
		{ PERM_ACL_USER_OBJ, 6, ~0u }, { PERM_ACL_USER, 0, 1001 },
		{ PERM_ACL_GROUP_OBJ, 0, ~0u }, { PERM_ACL_MASK, 0, ~0u },
		{ PERM_ACL_OTHER, 1, ~0u },
	};
	perm_acl_parse(&acl, b, acl_blob(b, nomask, 5));
	CHECK(perm_eval(&bob, 0601, 0, 0, &acl, 1, why, sizeof why) == 1 &&
	      !strcmp(why, "others"), "mask ---: others decide: %s", why);

	/* plain mode bits: owner, then group, then others, each exclusive */
	CHECK(perm_eval(&alice, 0066, 1000, 1000, NULL, 2, why, sizeof why) == 0,
	      "owner class is exclusive");
	CHECK(perm_eval(&alice, 0606, 0, 50, NULL, 2, why, sizeof why) == 0,
	      "group class is exclusive (supplementary)");
	CHECK(!strcmp(why, "group 50") || strstr(why, "group") != NULL, "why %s", why);
	CHECK(perm_eval(&bob, 0602, 0, 50, NULL, 2, why, sizeof why) == 1 &&
	      !strcmp(why, "others"), "others: %s", why);
	CHECK(perm_eval(&bob, 0001, 0, 0, NULL, 1, why, sizeof why) == 1, "others x");
}

int main(void)
{
	test_json();
	test_dev();
	test_acl();
	return check_report("test_sockinfo");
}
