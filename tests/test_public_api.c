/* tests/test_public_api.c — the parts of include/cnncam.h that let a tool
 * (the CLI) do without the engine's headers: model introspection checked
 * against the loaded cc_model it reads (the demo model,
 * models/fashion_scenes.ccm: f16 tensors, aliases, labels, sigmoid output),
 * the status-returning class lookup, probabilities, .npy files, image files
 * with the stored orientation and a JPEG quality, deprocess_image on cases
 * worked by hand, status names and the version. */
#include "cnncam.h"
#include "engine/plan.h"
#include "testutil.h"
#include "weights/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const DEMO = "models/fashion_scenes.ccm";

static void check_graph(const cnncam_model *m, const cc_model *f)
{
    const int n = cnncam_model_node_count(m);
    tu_check(n == f->graph->nnodes && n > 10, "node count %d (graph %d)", n, f->graph->nnodes);
    int same = 1;
    for (int i = 0; i < n; i++) {
        const cc_node *node = &f->graph->nodes[i];
        same &= !strcmp(cnncam_model_node_name(m, i), node->name) &&
                !strcmp(cnncam_model_node_op(m, i), node->op ? node->op->name : "input");
    }
    tu_check(same, "every node's name and op as the graph has them ('input' for the graph input)");
    tu_check(!cnncam_model_node_name(m, n) && !cnncam_model_node_op(m, -1) && !cnncam_model_node_name(NULL, 0),
             "node queries out of range or on NULL give NULL");
    tu_check(cnncam_model_output_node(m) == f->output && cnncam_model_output_node(NULL) == -1, "output node");
    tu_check(cnncam_model_alias_count(m) == f->naliases && f->naliases > 0, "alias count %d", f->naliases);
    const int features = cnncam_model_find_node(m, "features");
    int alias_found = 0;
    for (int a = 0; a < cnncam_model_alias_count(m); a++)
        alias_found |= !strcmp(cnncam_model_alias_name(m, a), "features") && cnncam_model_alias_node(m, a) == features;
    tu_check(features >= 0 && alias_found, "'features' is an alias, and find_node gives its node");
    tu_check(cnncam_model_find_node(m, "input") == 0 && cnncam_model_find_node(m, "features.99") == -1 &&
                 cnncam_model_find_node(m, NULL) == -1,
             "find_node: 'input' is node 0, an unknown name -1");

    cnncam_shape *shapes = tu_alloc((size_t)n * sizeof *shapes);
    cc_shape *want = tu_alloc((size_t)n * sizeof *want);
    char err[512];
    const cc_shape in = cc_shape4(1, 3, 64, 48);
    cc_error e;
    tu_check(cnncam_model_node_shapes(m, 64, 48, shapes, err, sizeof err) == CNNCAM_OK &&
                 !cc_plan_shapes(f->graph, &in, want, &e),
             "node shapes at 64x48: %s", err);
    same = 1;
    for (int i = 0; i < n; i++) {
        same &= shapes[i].rank == want[i].rank;
        for (int d = 0; d < want[i].rank; d++)
            same &= shapes[i].dims[d] == want[i].d[d];
    }
    tu_check(same && shapes[0].dims[2] == 64 && shapes[0].dims[3] == 48, "node shapes are the plan's");
    tu_check(cnncam_model_node_shapes(m, 0, 48, shapes, err, sizeof err) == CNNCAM_EINVAL && strstr(err, "0x48"),
             "a zero height is refused, named: %s", err);
    tu_check(cnncam_model_node_shapes(m, 64, 48, NULL, err, sizeof err) == CNNCAM_EINVAL && strstr(err, "NULL"),
             "NULL shapes: %s", err);
    free(shapes);
    free(want);
}

static void check_tensors_and_meta(const cnncam_model *m, const cc_model *f)
{
    long long values = 0;
    int f16 = 0;
    for (int i = 0; i < f->ntensors; i++) {
        values += (long long)cc_shape_numel(&f->tensors[i].shape);
        f16 += f->tensors[i].dtype == CC_DTYPE_F16;
    }
    tu_check(cnncam_model_tensor_count(m) == f->ntensors && cnncam_model_parameter_count(m) == values,
             "%d tensors, %lld values", cnncam_model_tensor_count(m), cnncam_model_parameter_count(m));
    int named = 1, dtypes = 0;
    for (int i = 0; i < f->ntensors; i++) {
        cnncam_shape s;
        named &= !strcmp(cnncam_model_tensor_name(m, i), f->tensors[i].name) && cnncam_model_tensor_shape(m, i, &s) &&
                 s.rank == f->tensors[i].shape.rank && s.dims[0] == f->tensors[i].shape.d[0];
        dtypes += !strcmp(cnncam_model_tensor_dtype(m, i), "f16");
    }
    tu_check(named && dtypes == f16 && f16 > 0, "tensor names, shapes and dtypes (%d f16)", f16);
    tu_check(!cnncam_model_tensor_name(m, f->ntensors) && !cnncam_model_tensor_dtype(m, -1), "tensors out of range");
    tu_check(cnncam_model_file_size(m) == (long long)f->file_size && f->file_size > 1000000, "file size %lld",
             cnncam_model_file_size(m));

    int keys = 0;
    while (cnncam_model_meta_key(m, keys))
        keys++;
    tu_check(keys == f->nmeta && keys > 5, "meta keys listed until NULL: %d", keys);
    tu_check(!strcmp(cnncam_model_meta_type(m, "labels"), "strings") &&
                 !strcmp(cnncam_model_meta_type(m, "classes"), "int") &&
                 !strcmp(cnncam_model_meta_type(m, "input.mean"), "floats") &&
                 !strcmp(cnncam_model_meta_type(m, "output"), "string") && !cnncam_model_meta_type(m, "no.such.key"),
             "meta types");
    long long classes = -5;
    double d = -5;
    const char *const *labels = NULL;
    const double *mean = NULL;
    int nlabels = -5, nmean = 0;
    tu_check(cnncam_model_meta_int(m, "classes", &classes) && classes == 10, "meta int classes %lld", classes);
    tu_check(!cnncam_model_meta_int(m, "output", &classes) && classes == 10, "another type: 0, value untouched");
    tu_check(!cnncam_model_meta_float(m, "classes", &d) && d == -5, "meta float of an int key: 0");
    tu_check(cnncam_model_meta_strings(m, "labels", &labels, &nlabels) && nlabels == 10 &&
                 !strcmp(labels[1], "Trouser"),
             "meta strings labels");
    tu_check(!cnncam_model_meta_strings(m, "no.such.key", &labels, &nlabels) && nlabels == 10,
             "an absent list: 0, values untouched");
    tu_check(cnncam_model_meta_floats(m, "input.mean", &mean, &nmean) && nmean == 3 && fabs(mean[0] - 0.485) < 1e-12,
             "meta floats input.mean");
    tu_check(!strcmp(cnncam_model_meta_string(m, "gradcam.layer"), "features") &&
                 !cnncam_model_meta_string(m, "classes") && !cnncam_model_meta_string(NULL, "arch"),
             "meta string");
}

static void check_classes(const cnncam_model *m)
{
    char err[512] = "";
    int idx = -7;
    tu_check(cnncam_model_class_index(m, "trouser", &idx, err, sizeof err) == CNNCAM_OK && idx == 1,
             "class_index by label: %d", idx);
    tu_check(cnncam_model_class_index(m, "10", &idx, err, sizeof err) == CNNCAM_EINVAL && idx == -1 &&
                 strstr(err, "out of range"),
             "class_index out of range: %s", err);
    tu_check(cnncam_model_class_index(m, "giraffe", &idx, err, sizeof err) == CNNCAM_EINVAL && idx == -1 &&
                 strstr(err, "no class is named 'giraffe'"),
             "class_index, no such class: %s", err);
    tu_check(cnncam_model_class_index(m, "1", NULL, err, sizeof err) == CNNCAM_EINVAL, "class_index without index");
    tu_check(cnncam_model_find_class(m, "Trouser", err, sizeof err) == 1, "find_class, the convenience, still works");

    const float z[3] = {0.5f, -2, 30};
    double p[3];
    tu_check(cnncam_probabilities(m, z, 3, p, err, sizeof err) == CNNCAM_OK &&
                 p[0] == 1 / (1 + exp(-0.5)) && p[1] == 1 / (1 + exp(2.0)) && p[2] == 1 / (1 + exp(-30.0)),
             "probabilities of a sigmoid model: each output's own sigmoid, in double");
    tu_check(cnncam_probabilities(m, z, 0, p, err, sizeof err) == CNNCAM_EINVAL && strstr(err, "at least 1"),
             "probabilities of no outputs: %s", err);
    tu_check(cnncam_probabilities(NULL, z, 3, p, err, sizeof err) == CNNCAM_EINVAL && strstr(err, "model"),
             "probabilities without a model: %s", err);
}

static void check_npy(void)
{
    char path[64], err[512];
    snprintf(path, sizeof path, "/tmp/cnncam-test-public-%d.npy", (int)getpid());
    const float x[6] = {1, -2, 3.5f, 0, 1e-30f, 7};
    const int shape[2] = {2, 3};
    float *y = NULL;
    int got[CNNCAM_MAX_RANK] = {0}, rank = 0;
    tu_check(cnncam_npy_write(path, x, shape, 2, err, sizeof err) == CNNCAM_OK, "npy write: %s", err);
    tu_check(cnncam_npy_read(path, &y, got, &rank, err, sizeof err) == CNNCAM_OK && rank == 2 && got[0] == 2 &&
                 got[1] == 3 && y && !memcmp(x, y, sizeof x),
             "npy read gives back what was written");
    cnncam_npy_free(y);
    unlink(path);
    tu_check(cnncam_npy_read(path, &y, got, &rank, err, sizeof err) == CNNCAM_EIO && !y && rank == 0 &&
                 strstr(err, path),
             "a missing file: %s", err);
    tu_check(cnncam_npy_read("tests/data/npy/bad_int32.npy", &y, got, &rank, err, sizeof err) == CNNCAM_EFORMAT,
             "an int32 array is refused: %s", err);
    const int rank6[CNNCAM_MAX_RANK] = {1, 2, 1, 3, 1, 1};  /* the most dimensions an array may have */
    tu_check(CNNCAM_MAX_RANK == 6 && cnncam_npy_write(path, x, rank6, 6, err, sizeof err) == CNNCAM_OK,
             "npy write of rank 6: %s", err);
    tu_check(cnncam_npy_read(path, &y, got, &rank, err, sizeof err) == CNNCAM_OK && rank == 6 &&
                 !memcmp(got, rank6, sizeof rank6) && y && !memcmp(x, y, sizeof x),
             "npy read of rank 6 gives back what was written: %s", err);
    cnncam_npy_free(y);
    unlink(path);
    const int bad_rank[7] = {1, 1, 1, 1, 1, 1, 6};
    tu_check(cnncam_npy_write(path, x, bad_rank, 7, err, sizeof err) == CNNCAM_EINVAL && access(path, F_OK) &&
                 strstr(err, "rank 7"),
             "rank 7 is refused and nothing written: %s", err);
    tu_check(cnncam_npy_write(path, NULL, shape, 2, err, sizeof err) == CNNCAM_EINVAL, "NULL data refused");
}

static void check_images(void)
{
    char err[512], path[64];
    unsigned char *a = NULL, *b = NULL;
    int aw, ah, bw, bh;
    const char *six = "tests/data/img/exif_orient6.jpg";  /* rotate 90 degrees to be upright */
    tu_check(cnncam_image_read_pixels(six, 0, 3, 0, &a, &aw, &ah, err, sizeof err) == CNNCAM_OK &&
                 cnncam_image_read_pixels(six, 0, 3, CNNCAM_IMAGE_STORED_ORIENTATION, &b, &bw, &bh, err,
                                          sizeof err) == CNNCAM_OK,
             "read_pixels upright and as stored: %s", err);
    tu_check(aw == bh && ah == bw && aw != ah, "orientation 6 swaps width and height (%dx%d, stored %dx%d)", aw, ah,
             bw, bh);
    unsigned char *c = NULL;
    int cw, ch;
    tu_check(cnncam_image_read_channels(six, 0, 3, &c, &cw, &ch, err, sizeof err) == CNNCAM_OK && cw == aw &&
                 ch == ah && !memcmp(a, c, (size_t)aw * ah * 3),
             "read_channels is read_pixels with flags 0");
    cnncam_image_free(c);
    snprintf(path, sizeof path, "/tmp/cnncam-test-public-%d.jpg", (int)getpid());
    tu_check(cnncam_image_write_quality(path, a, aw, ah, 101, err, sizeof err) == CNNCAM_EINVAL &&
                 access(path, F_OK),
             "quality 101 refused, nothing written: %s", err);
    FILE *f;
    long low = 0, high = 0;
    if (!cnncam_image_write_quality(path, a, aw, ah, 10, err, sizeof err) && (f = fopen(path, "rb")))
        fseek(f, 0, SEEK_END), low = ftell(f), fclose(f);
    if (!cnncam_image_write_quality(path, a, aw, ah, 100, err, sizeof err) && (f = fopen(path, "rb")))
        fseek(f, 0, SEEK_END), high = ftell(f), fclose(f);
    tu_check(low > 0 && high > low, "JPEG quality 10 is smaller than 100 (%ld < %ld bytes)", low, high);
    unlink(path);
    cnncam_image_free(a);
    cnncam_image_free(b);
}

/* deprocess_image by hand (numpy's reference_gradcam.deprocess_image gives the
 * same): x = [1, 3] has mean 2 and std 1, so (x - 2) / (1 + 1e-5) * 0.1 + 0.5
 * is 0.4 plus a hair and 0.6 minus one: 255 times them truncates to 102 and
 * 152. A constant gives 0.5: 127. With a mask of [1, 0] on gb = [1, 1] the
 * values are [1, 0]: mean 0.5, std 0.5, so 152 and 102 again. */
static void check_deprocess(void)
{
    char err[256];
    unsigned char out[6];
    const float two[2] = {1, 3}, same[3] = {5, 5, 5}, mask[2] = {1, 0}, ones[2] = {1, 1};
    cnncam_status st = cnncam_deprocess_image(two, NULL, 2, 1, 1, out, err, sizeof err);
    tu_check(!st && out[0] == 102 && out[1] == 152, "deprocess [1, 3]: %d %d", out[0], out[1]);
    st = cnncam_deprocess_image(same, NULL, 1, 1, 3, out, err, sizeof err);
    tu_check(!st && out[0] == 127 && out[2] == 127, "deprocess of a constant: %d", out[0]);
    st = cnncam_deprocess_image(ones, mask, 2, 1, 1, out, err, sizeof err);
    tu_check(!st && out[0] == 152 && out[1] == 102, "deprocess of mask * gb: %d %d", out[0], out[1]);
    tu_check(cnncam_deprocess_image(two, NULL, 0, 1, 1, out, err, sizeof err) == CNNCAM_EINVAL &&
                 strstr(err, "pixels"),
             "an empty gradient is refused: %s", err);
}

static void check_library(void)
{
    tu_check(!strcmp(cnncam_version(), CNNCAM_VERSION), "cnncam_version() %s = CNNCAM_VERSION", cnncam_version());
    const char *names[] = {"CNNCAM_OK", "CNNCAM_EINVAL", "CNNCAM_EFORMAT", "CNNCAM_ENOMEM", "CNNCAM_EIO",
                           "CNNCAM_ESTATE"};
    int ok = 1;
    for (int st = CNNCAM_OK; st <= CNNCAM_ESTATE; st++)
        ok &= !strcmp(cnncam_status_name((cnncam_status)st), names[st]);
    tu_check(ok && !strcmp(cnncam_status_name((cnncam_status)42), "CNNCAM_UNKNOWN"), "status names");
    tu_check(cnncam_cpu_count() >= 1 && cnncam_cpu_count() <= 256, "cpu count %d", cnncam_cpu_count());
}

int main(void)
{
    char err[512];
    cnncam_model *m = NULL;
    cc_model *f = NULL;
    cc_error e;
    if (cnncam_model_load(DEMO, &m, err, sizeof err) || cc_model_load(DEMO, &f, &e)) {
        tu_check(0, "load %s: %s", DEMO, err);
    } else {
        check_graph(m, f);
        check_tensors_and_meta(m, f);
        check_classes(m);
    }
    cnncam_model_free(m);
    cc_model_free(f);
    check_npy();
    check_images();
    check_deprocess();
    check_library();
    return tu_finish("public_api");
}
