/* hasher.c - a one-worker pipeline that takes hashing off the SQLite thread.
 *
 * Writing a batch and verifying a log both spend about as long hashing (SHA-256 of every entry,
 * then the tree's node hashes) as they spend in SQLite.  The two are independent until the end:
 * the handle's thread reads or writes entries and pushes them, in order, to one worker thread
 * that consumes them.  Records travel in chunks to keep locking rare; the queue is bounded so a
 * slow worker holds the producer back instead of growing memory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK_BYTES (64 * 1024)
#define MAX_QUEUED 32

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    uint8_t data[]; /* records as u32 length (host order) + bytes */
} chunk;

struct ctm__pipe {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* worker: a chunk arrived or the producer is done */
    pthread_cond_t room;      /* producer: the queue has room again */
    chunk *head, *tail;       /* queued chunks, oldest first */
    int queued;
    int done;                 /* no more chunks will come */
    chunk *filling;           /* the producer's current chunk (producer thread only) */
    ctm__pipe_fn consume;     /* called on the worker thread, record by record, in order */
    void *ctx;
};

static chunk *chunk_new(size_t need)
{
    size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;
    chunk *c = malloc(sizeof *c + cap);
    if (c != NULL) {
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
    }
    return c;
}

static void consume_chunk(ctm__pipe *p, const chunk *c)
{
    size_t off = 0;
    while (off < c->used) {
        uint32_t len;
        memcpy(&len, c->data + off, sizeof len);
        off += sizeof len;
        p->consume(p->ctx, c->data + off, len);
        off += len;
    }
}

static void *worker(void *arg)
{
    ctm__pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == NULL && !p->done)
            pthread_cond_wait(&p->wake, &p->lock);
        chunk *c = p->head;
        if (c == NULL)
            break; /* done and drained */
        p->head = c->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_cond_signal(&p->room);
        pthread_mutex_unlock(&p->lock);
        consume_chunk(p, c);
        free(c);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int ctm__pipe_start(ctm__pipe **out, ctm__pipe_fn consume, void *ctx)
{
    *out = NULL;
    ctm__pipe *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    p->consume = consume;
    p->ctx = ctx;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->room, NULL);
    if (pthread_create(&p->thread, NULL, worker, p) != 0) {
        pthread_cond_destroy(&p->room);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return ctm__err(CTM_ERROR, "cannot start the hashing thread");
    }
    *out = p;
    return CTM_OK;
}

static void enqueue(ctm__pipe *p, chunk *c)
{
    pthread_mutex_lock(&p->lock);
    while (p->queued >= MAX_QUEUED)
        pthread_cond_wait(&p->room, &p->lock);
    if (p->tail != NULL)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    p->queued++;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

int ctm__pipe_push(ctm__pipe *p, const void *const *parts, const size_t *lens, int nparts)
{
    size_t len = 0;
    for (int i = 0; i < nparts; i++)
        len += lens[i];
    if (len > UINT32_MAX)
        return ctm__err(CTM_ENOMEM, "a record of %zu bytes is too large to queue", len);
    size_t need = sizeof(uint32_t) + len;
    if (p->filling != NULL && p->filling->cap - p->filling->used < need) {
        enqueue(p, p->filling);
        p->filling = NULL;
    }
    if (p->filling == NULL && (p->filling = chunk_new(need)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    uint32_t len32 = (uint32_t)len;
    uint8_t *at = p->filling->data + p->filling->used;
    memcpy(at, &len32, sizeof len32);
    at += sizeof len32;
    for (int i = 0; i < nparts; i++) {
        if (lens[i] > 0)
            memcpy(at, parts[i], lens[i]);
        at += lens[i];
    }
    p->filling->used += need;
    return CTM_OK;
}

/* Stop the worker (after it consumed everything queued, or dropping it) and free the pipe. */
static void stop(ctm__pipe *p, int drain)
{
    if (p->filling != NULL) {
        if (drain)
            enqueue(p, p->filling);
        else
            free(p->filling);
        p->filling = NULL;
    }
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    if (!drain) {
        while (p->head != NULL) {
            chunk *c = p->head;
            p->head = c->next;
            free(c);
        }
        p->tail = NULL;
        p->queued = 0;
        pthread_cond_signal(&p->room);
    }
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void ctm__pipe_finish(ctm__pipe *p)
{
    stop(p, 1);
}

void ctm__pipe_abort(ctm__pipe *p)
{
    if (p != NULL)
        stop(p, 0);
}

/* ---- the batch's tree: each entry's leaf appended to the frontier, in order ---- */

static void append_leaf(void *ctx, const uint8_t *entry, size_t len)
{
    ctm_hash leaf;
    ctm__leaf_hash(entry, len, leaf);
    ctm__frontier_append(ctx, leaf);
}

void ctm__hasher_init(ctm_db *db)
{
    db->hasher.pipe = NULL;
    ctm__frontier_init(&db->hasher.frontier);
}

int ctm__hasher_start(ctm_db *db)
{
    db->hasher.frontier = db->tx.frontier;
    return ctm__pipe_start(&db->hasher.pipe, append_leaf, &db->hasher.frontier);
}

int ctm__hasher_push(ctm_db *db, const uint8_t *entry, size_t len)
{
    const void *parts[1] = {entry};
    return ctm__pipe_push(db->hasher.pipe, parts, &len, 1);
}

void ctm__hasher_finish(ctm_db *db, ctm__frontier *into)
{
    ctm__pipe_finish(db->hasher.pipe);
    db->hasher.pipe = NULL;
    *into = db->hasher.frontier;
}

void ctm__hasher_abort(ctm_db *db)
{
    ctm__pipe_abort(db->hasher.pipe);
    db->hasher.pipe = NULL;
}

void ctm__hasher_free(ctm_db *db)
{
    ctm__hasher_abort(db);
}
