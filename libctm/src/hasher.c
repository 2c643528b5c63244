/* hasher.c - leaf hashing off the SQLite thread while a batch is written.
 *
 * A batch of many actions spends as long hashing its entries (SHA-256 of every entry, then the
 * tree's node hashes) as it spends in SQLite.  The two are independent until the batch commits:
 * the handle's thread encodes and inserts entries, and one worker thread per open batch hashes
 * them in order into the tree's frontier.  Entries travel in chunks to keep locking rare; the
 * queue is bounded so a slow worker holds the writer back instead of growing memory.
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
    uint8_t data[]; /* entries as u32 length (host order) + bytes */
} chunk;

struct ctm__hasher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* worker: a chunk arrived or the batch ends */
    pthread_cond_t room;      /* writer: the queue has room again */
    chunk *head, *tail;       /* queued chunks, oldest first */
    int queued;
    int done;                 /* no more chunks will come */
    chunk *filling;           /* the writer's current chunk (writer thread only) */
    ctm__frontier frontier;   /* the worker's; read by the writer only after the join */
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

static void hash_chunk(ctm__frontier *f, const chunk *c)
{
    size_t off = 0;
    while (off < c->used) {
        uint32_t len;
        memcpy(&len, c->data + off, sizeof len);
        off += sizeof len;
        ctm_hash leaf;
        ctm__leaf_hash(c->data + off, len, leaf);
        ctm__frontier_append(f, leaf);
        off += len;
    }
}

static void *worker(void *arg)
{
    ctm__hasher *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (h->head == NULL && !h->done)
            pthread_cond_wait(&h->wake, &h->lock);
        chunk *c = h->head;
        if (c == NULL)
            break; /* done and drained */
        h->head = c->next;
        if (h->head == NULL)
            h->tail = NULL;
        h->queued--;
        pthread_cond_signal(&h->room);
        pthread_mutex_unlock(&h->lock);
        hash_chunk(&h->frontier, c);
        free(c);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int ctm__hasher_start(ctm__hasher **out, const ctm__frontier *start)
{
    *out = NULL;
    ctm__hasher *h = calloc(1, sizeof *h);
    if (h == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    h->frontier = *start;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    pthread_cond_init(&h->room, NULL);
    if (pthread_create(&h->thread, NULL, worker, h) != 0) {
        pthread_cond_destroy(&h->room);
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return ctm__err(CTM_ERROR, "cannot start the hashing thread");
    }
    *out = h;
    return CTM_OK;
}

static void enqueue(ctm__hasher *h, chunk *c)
{
    pthread_mutex_lock(&h->lock);
    while (h->queued >= MAX_QUEUED)
        pthread_cond_wait(&h->room, &h->lock);
    if (h->tail != NULL)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    h->queued++;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
}

int ctm__hasher_push(ctm__hasher *h, const uint8_t *entry, size_t len)
{
    size_t need = sizeof(uint32_t) + len;
    if (h->filling != NULL && h->filling->cap - h->filling->used < need) {
        enqueue(h, h->filling);
        h->filling = NULL;
    }
    if (h->filling == NULL && (h->filling = chunk_new(need)) == NULL)
        return ctm__err(CTM_ENOMEM, "out of memory");
    uint32_t len32 = (uint32_t)len;
    memcpy(h->filling->data + h->filling->used, &len32, sizeof len32);
    memcpy(h->filling->data + h->filling->used + sizeof len32, entry, len);
    h->filling->used += need;
    return CTM_OK;
}

/* Stop the worker after it has hashed everything queued, and free the hasher. */
static void stop(ctm__hasher *h, ctm__frontier *out)
{
    if (h->filling != NULL) {
        if (out != NULL)
            enqueue(h, h->filling);
        else
            free(h->filling);
        h->filling = NULL;
    }
    pthread_mutex_lock(&h->lock);
    h->done = 1;
    if (out == NULL) {
        /* abandoning the batch: drop what is still queued */
        while (h->head != NULL) {
            chunk *c = h->head;
            h->head = c->next;
            free(c);
        }
        h->tail = NULL;
        h->queued = 0;
        pthread_cond_signal(&h->room);
    }
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    if (out != NULL)
        *out = h->frontier;
    pthread_cond_destroy(&h->room);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void ctm__hasher_finish(ctm__hasher *h, ctm__frontier *out)
{
    stop(h, out);
}

void ctm__hasher_abort(ctm__hasher *h)
{
    if (h != NULL)
        stop(h, NULL);
}
