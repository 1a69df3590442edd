/*
 * The version-lock API: compare-and-set, lease liveness, and the named
 * lease lock, including mutual exclusion between real threads.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "support/testutil.h"

typedef struct fixture {
	test_clock clock;
	orc_backend *mem;
	orc_context *ctx;
} fixture;

static int setup(void **state)
{
	orc_context_options copts = ORC_CONTEXT_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));

	f->clock.now = 1000;
	copts.clock = test_clock_now;
	copts.clock_payload = &f->clock;
	if (orc_memory_backend_create(&f->mem, NULL, NULL) != ORC_OK ||
	    orc_context_create(&f->ctx, f->mem, &copts, NULL) != ORC_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	orc_context_free(f->ctx);
	orc_backend_free(f->mem);
	free(f);
	return 0;
}

static void test_lock__cas_check(void **state)
{
	orc_error err;

	(void)state;
	assert_int_equal(orc_lock_cas_check(4, 4, "task X", &err), ORC_OK);
	assert_int_equal(orc_lock_cas_check(3, 4, "task X", &err),
			 ORC_ECONFLICT);
	assert_string_equal(err.message, "task X: expected version 3, found 4");
}

static void test_lock__lease_liveness(void **state)
{
	(void)state;
	assert_true(orc_lease_is_live("w", 101, 100));
	assert_false(orc_lease_is_live("w", 100, 100)); /* expiry is exclusive */
	assert_false(orc_lease_is_live("", 500, 100));
	assert_false(orc_lease_is_live(NULL, 500, 100));
}

static void test_lock__acquire_exclusive_until_expiry(void **state)
{
	fixture *f = *state;
	orc_lease a, b, a2;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_lock_acquire(&a, f->ctx, "deploy", "alice", 100,
					   &err));
	assert_int_equal(a.token, 1);
	assert_int_equal(a.expiry_ms, 1100);
	assert_int_equal(orc_lock_acquire(&b, f->ctx, "deploy", "bob", 100,
					  &err), ORC_ELOCKED);
	assert_non_null(strstr(err.message, "alice"));
	/* The holder acquiring again renews. */
	ASSERT_ST(ORC_OK, orc_lock_acquire(&a2, f->ctx, "deploy", "alice", 100,
					   &err));
	assert_int_equal(a2.token, 2);
	f->clock.now += 100; /* expired */
	ASSERT_ST(ORC_OK, orc_lock_acquire(&b, f->ctx, "deploy", "bob", 100,
					   &err));
	assert_int_equal(b.token, 3);
	/* Alice's lease is gone: renew and release are fenced. */
	assert_int_equal(orc_lock_renew(&a2, f->ctx, 100, &err), ORC_ECONFLICT);
	f->clock.now -= 50;
	assert_int_equal(orc_lock_renew(&a2, f->ctx, 100, &err), ORC_ECONFLICT);
	assert_non_null(strstr(err.message, "lost"));
	assert_int_equal(orc_lock_release(&a2, f->ctx, &err), ORC_ECONFLICT);
	/* Bob renews and releases; then anyone may take it. */
	ASSERT_ST(ORC_OK, orc_lock_renew(&b, f->ctx, 1000, &err));
	assert_int_equal(b.token, 4);
	ASSERT_ST(ORC_OK, orc_lock_release(&b, f->ctx, &err));
	ASSERT_ST(ORC_OK, orc_lock_acquire(&a, f->ctx, "deploy", "alice", 100,
					   &err));
	assert_int_equal(a.token, 6);
}

/* Every lock call takes the lease first, then the context, and updates
 * the lease: release leaves it marked released. */
static void test_lock__release_updates_the_lease(void **state)
{
	fixture *f = *state;
	orc_lease l, other;
	orc_error err;

	ASSERT_ST(ORC_OK, orc_lock_acquire(&l, f->ctx, "deploy", "alice", 100,
					   &err));
	ASSERT_ST(ORC_OK, orc_lock_renew(&l, f->ctx, 100, &err));
	assert_int_equal(l.token, 2);
	ASSERT_ST(ORC_OK, orc_lock_release(&l, f->ctx, &err));
	assert_int_equal(l.token, 3);
	assert_int_equal(l.expiry_ms, 0);
	/* Again: nothing to write, so nothing is fenced. */
	ASSERT_ST(ORC_OK, orc_lock_release(&l, f->ctx, &err));
	assert_int_equal(l.token, 3);
	assert_int_equal(orc_lock_renew(&l, f->ctx, 100, &err), ORC_ECONFLICT);
	assert_non_null(strstr(err.message, "acquire again"));
	/* The release was written once: the next holder gets version 4. */
	ASSERT_ST(ORC_OK, orc_lock_acquire(&other, f->ctx, "deploy", "bob", 100,
					   &err));
	assert_int_equal(other.token, 4);
}

static void test_lock__bad_arguments(void **state)
{
	fixture *f = *state;
	orc_lease l;
	orc_error err;

	assert_int_equal(orc_lock_acquire(&l, f->ctx, "a#b", "o", 10, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lock_acquire(&l, f->ctx, "", "o", 10, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lock_acquire(&l, f->ctx, "n", "", 10, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lock_acquire(&l, f->ctx, "n", "o", 0, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lock_acquire(NULL, f->ctx, "n", "o", 10, &err),
			 ORC_EINVAL);
	assert_int_equal(orc_lock_renew(NULL, f->ctx, 10, &err), ORC_EINVAL);
	assert_int_equal(orc_lock_release(NULL, f->ctx, &err), ORC_EINVAL);
}

/* ---- mutual exclusion across threads, real clock ---- */

struct race {
	orc_backend *b;
	atomic_int inside;
	atomic_int overlaps;
	atomic_int entries;
};

struct racer {
	struct race *r;
	int id;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	orc_context *ctx = NULL;
	char owner[32];
	int done = 0, spins = 0;

	snprintf(owner, sizeof(owner), "thread-%d", me->id);
	if (orc_context_create(&ctx, me->r->b, NULL, NULL) != ORC_OK)
		return NULL;
	while (done < 25 && spins < 2000000) {
		orc_lease l;
		orc_status st;

		spins++;
		st = orc_lock_acquire(&l, ctx, "critical", owner, 60000, NULL);
		if (st != ORC_OK)
			continue; /* ELOCKED or a lost race: try again */
		if (atomic_exchange(&me->r->inside, 1) != 0)
			atomic_fetch_add(&me->r->overlaps, 1);
		atomic_fetch_add(&me->r->entries, 1);
		atomic_store(&me->r->inside, 0);
		if (orc_lock_release(&l, ctx, NULL) != ORC_OK)
			atomic_fetch_add(&me->r->overlaps, 1);
		done++;
	}
	orc_context_free(ctx);
	return NULL;
}

static void test_lock__threads_exclude_each_other(void **state)
{
	fixture *f = *state;
	struct race r;
	struct racer rs[8];
	pthread_t th[8];
	int i;

	r.b = f->mem;
	atomic_init(&r.inside, 0);
	atomic_init(&r.overlaps, 0);
	atomic_init(&r.entries, 0);
	for (i = 0; i < 8; i++) {
		rs[i].r = &r;
		rs[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &rs[i]),
				 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&r.overlaps), 0);
	assert_int_equal(atomic_load(&r.entries), 8 * 25);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock__cas_check),
		cmocka_unit_test(test_lock__lease_liveness),
		T(test_lock__acquire_exclusive_until_expiry),
		T(test_lock__release_updates_the_lease),
		T(test_lock__bad_arguments),
		T(test_lock__threads_exclude_each_other),
	};
	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
