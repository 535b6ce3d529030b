/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regression tests for crashes the fuzzers found (tests/fuzz/regress/
 * holds the raw inputs). Run them under `make SANITIZE=1 unit` to see the
 * use-after-free they guard against.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "config-int.h"

/* Write text to a fresh temporary ini; the caller unlinks path. */
static void
write_ini(char *path, const char *text)
{
	int	 fd;

	strcpy(path, "/tmp/circus-unit-XXXXXX.ini");
	fd = mkstemps(path, 4);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* ini_jset() tried json_object_set_new() first, which frees the value
 * when it refuses an invalid UTF-8 key, then stored the freed value. */
static void
test_ini_jset_invalid_utf8_key(void **state)
{
	json_t	*obj = json_object(), *v = json_string("value");

	(void)state;
	ini_jset(obj, "key\xff\xfe", v);
	assert_int_equal(json_object_size(obj), 1);
	assert_string_equal(json_string_value(json_object_get(obj,
	    "key\xff\xfe")), "value");
	ini_jset(obj, "plain", json_string("other"));
	assert_int_equal(json_object_size(obj), 2);
	json_decref(obj);
}

/* The fuzzer's input: a free-form watcher key with invalid UTF-8. */
static void
test_config_invalid_utf8_option_key(void **state)
{
	struct config	*cfg;
	json_t		*opts;
	char		 path[64], *errors = NULL;

	(void)state;
	write_ini(path, "[watcher:rtmin]\ncmd = /bin/true\n"
	    "stop\x99\x8c\x96 = RTMIN+2\n");
	cfg = config_load(path, &errors);
	unlink(path);
	assert_non_null(cfg);
	assert_int_equal(cfg->nwatchers, 1);
	assert_string_equal(json_string_value(json_object_get(
	    cfg->watchers[0]->freeform, "stop\x99\x8c\x96")), "RTMIN+2");
	opts = watcher_cfg_options(cfg->watchers[0]);
	assert_non_null(json_object_get(opts, "cmd"));
	json_decref(opts);
	config_free(cfg);
	free(errors);

	/* and the fuzzer's own input, every watcher's options */
	cfg = config_load("tests/fuzz/regress/ini/invalid-utf8-key", &errors);
	assert_non_null(cfg);
	assert_int_equal(cfg->nwatchers, 4);
	for (size_t i = 0; i < cfg->nwatchers; i++) {
		opts = watcher_cfg_options(cfg->watchers[i]);
		assert_non_null(opts);
		json_decref(opts);
	}
	config_free(cfg);
	free(errors);
}

/* The same mistake copied the daemon's environment (copy_env). */
static void
test_copy_env_invalid_utf8_name(void **state)
{
	struct config	*cfg;
	char		 path[64], *errors = NULL;

	(void)state;
	assert_int_equal(setenv("CIRCUS_BAD_\xff", "v", 1), 0);
	write_ini(path, "[watcher:w]\ncmd = /bin/true\ncopy_env = true\n");
	cfg = config_load(path, &errors);
	unlink(path);
	unsetenv("CIRCUS_BAD_\xff");
	assert_non_null(cfg);
	assert_string_equal(json_string_value(json_object_get(
	    cfg->watchers[0]->env, "CIRCUS_BAD_\xff")), "v");
	config_free(cfg);
	free(errors);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_jset_invalid_utf8_key),
		cmocka_unit_test(test_config_invalid_utf8_option_key),
		cmocka_unit_test(test_copy_env_invalid_utf8_name),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
