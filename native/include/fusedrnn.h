/*
 * fusedrnn.h - the C ABI of libfusedrnn: LSTM / GRU / Elman RNN inference with PyTorch semantics.
 *
 * This is the only header the binding generator reads. It stays plain C99: fixed-width integers, bool for flags
 * (one byte), no unions, no function pointers, no bitfields, no macros in signatures other than FRNN_API.
 * Doc comments (slash-star-star, or slash-star-star-less-than after a member) become the docs of the generated C#.
 *
 * Conventions:
 *  - Every function returns an frnn_status (except frnn_last_error and frnn_abi_version); results go through
 *    out-parameters. On failure, frnn_last_error() returns a message describing it.
 *  - Objects are opaque handles with a create/destroy pair; destroy accepts NULL. A destroyed or foreign
 *    handle passed back returns FRNN_STATUS_INVALID_HANDLE (unless its address has since been reused by a
 *    new object of the same type).
 *  - Buffers are float pointers with explicit element counts; the library checks every count it is given.
 *  - A model is immutable after creation and may be used by many threads at once, each with its own
 *    workspace. A workspace must be used by one thread at a time. Destroying an object while another
 *    thread is still using it is the caller's error.
 *  - Reserved fields must be zero.
 *  - Structs the caller fills for the library to read once (frnn_model_spec, frnn_dense_spec) begin with struct_size, the sizeof the
 *    caller was compiled with: a later version of this header appends fields, which the library reads only when
 *    struct_size covers them (older callers get their defaults, all zero), and a caller built against a newer
 *    header is refused only if it sets a field this library does not know.
 */
#ifndef FUSEDRNN_H
#define FUSEDRNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(FUSEDRNN_BUILDING)
#define FRNN_API __declspec(dllexport)
#else
#define FRNN_API __declspec(dllimport)
#endif
#else
#define FRNN_API __attribute__((visibility("default")))
#endif

/** Version of this ABI; bumped on any incompatible change to a signature, struct or enum. */
#define FRNN_ABI_VERSION 2

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every call. */
typedef enum frnn_status {
    FRNN_STATUS_OK = 0,
    FRNN_STATUS_INVALID_ARGUMENT = 1, /**< a value is out of range or inconsistent with another */
    FRNN_STATUS_NULL_POINTER = 2,     /**< a required pointer is NULL */
    FRNN_STATUS_SHAPE_MISMATCH = 3,   /**< a buffer or weight element count does not match the shapes */
    FRNN_STATUS_INVALID_HANDLE = 4,   /**< a handle that is not live (destroyed, or never created here) */
    FRNN_STATUS_OUT_OF_MEMORY = 5,
    FRNN_STATUS_UNSUPPORTED = 6,      /**< valid request this build cannot serve */
    FRNN_STATUS_INTERNAL = 7          /**< a bug in the library */
} frnn_status;

/** Recurrent cell type; the numeric values are part of the ABI. */
typedef enum frnn_cell_kind {
    FRNN_CELL_LSTM = 0,
    FRNN_CELL_GRU = 1,
    FRNN_CELL_RNN_TANH = 2,
    FRNN_CELL_RNN_RELU = 3
} frnn_cell_kind;

/** What the kernels compute in; the numeric values are part of the ABI. Weights, inputs and outputs are float32 in both. */
typedef enum frnn_precision {
    FRNN_PRECISION_FLOAT32 = 0, /**< the default: float32 sums, activations and state, FMA throughout (as PyTorch) */
    FRNN_PRECISION_FLOAT64 = 1  /**< the exact mode: every sum, activation and state in double */
} frnn_precision;

/**
 * An activation function (ONNX's list for RNN, LSTM and GRU, plus identity); the numeric values are part of the ABI.
 * alpha and beta are those of frnn_activation.
 */
typedef enum frnn_activation_kind {
    FRNN_ACTIVATION_DEFAULT = 0,          /**< the role's activation in PyTorch's cell (see frnn_cell_activations) */
    FRNN_ACTIVATION_IDENTITY = 1,         /**< x (Keras activation=None or "linear") */
    FRNN_ACTIVATION_RELU = 2,             /**< max(0, x) */
    FRNN_ACTIVATION_TANH = 3,             /**< tanh(x) */
    FRNN_ACTIVATION_SIGMOID = 4,          /**< 1 / (1 + e^-x) */
    FRNN_ACTIVATION_AFFINE = 5,           /**< alpha * x + beta */
    FRNN_ACTIVATION_LEAKY_RELU = 6,       /**< x if x >= 0, else alpha * x */
    FRNN_ACTIVATION_THRESHOLDED_RELU = 7, /**< x if x > alpha, else 0 */
    FRNN_ACTIVATION_SCALED_TANH = 8,      /**< alpha * tanh(beta * x) */
    FRNN_ACTIVATION_HARD_SIGMOID = 9,     /**< min(max(alpha * x + beta, 0), 1) */
    FRNN_ACTIVATION_ELU = 10,             /**< x if x >= 0, else alpha * (e^x - 1) */
    FRNN_ACTIVATION_SOFTSIGN = 11,        /**< x / (1 + |x|) */
    FRNN_ACTIVATION_SOFTPLUS = 12         /**< log(1 + e^x) */
} frnn_activation_kind;

/**
 * One activation with its parameters. alpha must be finite for AFFINE, LEAKY_RELU, THRESHOLDED_RELU, SCALED_TANH,
 * HARD_SIGMOID and ELU, and beta for AFFINE, SCALED_TANH and HARD_SIGMOID; a parameter the kind does not take must
 * be 0. (ONNX's defaults are the caller's to fill in: the library takes every parameter explicitly.)
 */
typedef struct frnn_activation {
    int32_t kind; /**< an frnn_activation_kind value */
    float alpha;
    float beta;
} frnn_activation;

/**
 * The activations of one direction, by role. All DEFAULT (zero) is PyTorch's cell. A role the cell does not have
 * must be DEFAULT with zero parameters.
 */
typedef struct frnn_cell_activations {
    frnn_activation gates;     /**< f: LSTM i, f, o and GRU r, z (default sigmoid); RNN its one activation (default tanh, relu for FRNN_CELL_RNN_RELU) */
    frnn_activation candidate; /**< g: LSTM cell input, GRU n (default tanh) */
    frnn_activation output;    /**< h: LSTM only, of the cell state in h = o * h(c) (default tanh) */
} frnn_cell_activations;

/** Shape of a model, as in PyTorch's nn.LSTM / nn.GRU / nn.RNN constructor arguments, its cell variant, and how it runs. */
typedef struct frnn_model_spec {
    uint32_t struct_size;   /**< sizeof(frnn_model_spec) as the caller was compiled (see the conventions above) */
    int32_t cell_kind;      /**< an frnn_cell_kind value */
    int32_t input_size;     /**< features of x, >= 1 */
    int32_t hidden_size;    /**< H, >= 1 */
    int32_t num_layers;     /**< L, >= 1 */
    int32_t num_directions; /**< D: 1, or 2 for bidirectional */
    int32_t proj_size;      /**< 0 = no projection; LSTM only, 1 <= proj_size < hidden_size */
    int32_t num_threads;    /**< most threads a forward call uses (the workers are hired from one pool per process; fewer when fewer are idle); 0 = one per physical core, 1 = the caller only; values above the number of logical processors are capped to it */
    int32_t precision;      /**< an frnn_precision value; 0 = float32 */
    bool has_bias;          /**< true = bias_ih and bias_hh are given, false = no biases */
    bool has_peepholes;     /**< LSTM only: weight_p is given; i and f add P_i * c_prev and P_f * c_prev, o adds P_o * c (ONNX's P) */
    bool coupled_input_forget; /**< LSTM only: f = 1 - i (ONNX input_forget); the f rows of the weights are not used */
    bool reset_before_product; /**< GRU only: n = g(W_n x + R_n (r * h) + b_n) (ONNX's default, Keras reset_after=False); false = n = g(W_n x + b_in + r * (R_n h + b_hn)) (PyTorch) */
    float clip;             /**< 0 = none; > 0: every gate pre-activation is clipped to [-clip, clip] before its activation (ONNX clip) */
    frnn_cell_activations forward_activations; /**< direction 0 */
    frnn_cell_activations reverse_activations; /**< direction 1; all DEFAULT unless num_directions is 2 */
    uint8_t reserved[4];    /**< must be zero */
} frnn_model_spec;

/**
 * Weights of one layer and direction, in PyTorch's layout (row-major, gate order LSTM i,f,g,o; GRU r,z,n).
 * With G = 4 (LSTM), 3 (GRU) or 1 (RNN), H = hidden_size, Hout = proj_size if > 0 else H,
 * in = input_size for layer 0 else num_directions * Hout:
 *   weight_ih [G*H, in], weight_hh [G*H, Hout], bias_ih [G*H], bias_hh [G*H], weight_hr [Hout, H],
 *   weight_p [3*H] (peepholes P_i, P_f, P_o: the LSTM gate order without g).
 * Absent tensors (biases when has_bias is 0, weight_hr without projection, weight_p without peepholes) are NULL with
 * count 0.
 */
typedef struct frnn_layer_weights {
    const float* weight_ih;
    int64_t weight_ih_count;
    const float* weight_hh;
    int64_t weight_hh_count;
    const float* bias_ih;
    int64_t bias_ih_count;
    const float* bias_hh;
    int64_t bias_hh_count;
    const float* weight_hr;
    int64_t weight_hr_count;
    const float* weight_p;
    int64_t weight_p_count;
} frnn_layer_weights;

/**
 * Buffers of one forward call. T = seq_len, B = batch, L = num_layers, D = num_directions.
 *   x  [T, B, input_size]   ([B, T, input_size] when batch_first)     required
 *   h0 [L*D, B, Hout]       NULL = zero initial state                 (layer-major whatever batch_first)
 *   c0 [L*D, B, H]          NULL = zero initial cell state; LSTM only
 *   lengths [B]             NULL = every row runs T steps; else each in 1..T, any order. Row b runs its
 *                           first lengths[b] steps (PackedSequence semantics); y is zero past them.
 *   y  [T, B, D*Hout]       ([B, T, D*Hout] when batch_first); NULL = not written
 *   hn [L*D, B, Hout]       NULL = not written
 *   cn [L*D, B, H]          NULL = not written; LSTM only
 * An absent buffer has count 0. hn may be the same buffer as h0 and cn the same as c0 (state updated in
 * place); no other buffers may overlap.
 */
typedef struct frnn_forward_args {
    int32_t seq_len;
    int32_t batch;
    bool batch_first;    /**< x and y are [B, T, ...] instead of [T, B, ...] */
    uint8_t reserved[7]; /**< must be zero */
    const float* x;
    int64_t x_count;
    const float* h0;
    int64_t h0_count;
    const float* c0;
    int64_t c0_count;
    const int32_t* lengths;
    int64_t lengths_count;
    float* y;
    int64_t y_count;
    float* hn;
    int64_t hn_count;
    float* cn;
    int64_t cn_count;
} frnn_forward_args;

/**
 * Buffers of one frnn_model_step_slots call: one time step of B independent streams (a unidirectional model only)
 * whose recurrent state lives in the caller's state buffer, in the model's arithmetic type, so a FLOAT64 model's
 * state is never rounded to float32 between steps. B = batch, L = num_layers.
 *   state   [slot_count, slot values] of float (a FLOAT32 model) or double (FLOAT64), aligned to that type; one
 *           slot is frnn_model_slot_bytes bytes: h of every layer [L, Hout], then c of every layer [L, H] (LSTM).
 *           A zeroed slot is the zero initial state.
 *   slots   [B]  distinct slot indices in 0..slot_count-1: row b of x and y belongs to the stream in slot slots[b]
 *   x       [B, input_size]                                                               required
 *   y       [B, Hout]  NULL = not written
 * Each stream's step is computed exactly as row b of a forward call would compute it, whatever the other rows are.
 * None of the buffers may overlap. On failure neither y nor any slot has been written.
 */
typedef struct frnn_slot_step_args {
    int32_t batch;
    int32_t slot_count;
    const int32_t* slots;
    int64_t slots_count;
    uint8_t* state;
    int64_t state_bytes;
    const float* x;
    int64_t x_count;
    float* y;
    int64_t y_count;
} frnn_slot_step_args;

/** The function a dense layer applies to W x + b; the numeric values are part of the ABI. */
typedef enum frnn_dense_activation {
    FRNN_DENSE_IDENTITY = 0,   /**< y = W x + b */
    FRNN_DENSE_RELU = 1,       /**< max(0, y) */
    FRNN_DENSE_TANH = 2,       /**< tanh(y) */
    FRNN_DENSE_SIGMOID = 3,    /**< 1 / (1 + e^-y) */
    FRNN_DENSE_SOFTMAX = 4,    /**< e^y / sum of e^y over the row's outputs */
    FRNN_DENSE_LOG_SOFTMAX = 5 /**< y - log(sum of e^y over the row's outputs) */
} frnn_dense_activation;

/**
 * A dense (fully connected) layer, y = activation(W x + b), as PyTorch's nn.Linear: the head of a sequence model. It
 * follows frnn_model_spec's struct_size convention.
 */
typedef struct frnn_dense_spec {
    uint32_t struct_size; /**< sizeof(frnn_dense_spec) as the caller was compiled */
    int32_t input_size;   /**< features of each input row, >= 1 */
    int32_t output_size;  /**< features of each output row, >= 1 */
    int32_t activation;   /**< an frnn_dense_activation value */
    int32_t num_threads;  /**< as frnn_model_spec's */
    int32_t precision;    /**< an frnn_precision value; 0 = float32 */
    bool has_bias;        /**< true = bias is given */
    uint8_t reserved[7];  /**< must be zero */
} frnn_dense_spec;

/** A model: spec plus weights packed for the kernels. */
typedef struct frnn_model frnn_model;

/** Scratch memory of forward calls for one model, reused across calls. */
typedef struct frnn_workspace frnn_workspace;

/** A dense layer: spec plus weight and bias packed for the kernels. */
typedef struct frnn_dense frnn_dense;

/**
 * Message of the last failed call on this thread, or "" if none has failed. Successful calls leave it
 * unchanged. The pointer is valid until the next failing call on this thread.
 */
FRNN_API const char* frnn_last_error(void);

/** FRNN_ABI_VERSION of the library that is loaded; compare with the header the caller was built against. */
FRNN_API uint32_t frnn_abi_version(void);

/**
 * Size in bytes of the named struct (e.g. "frnn_forward_args") as this library was compiled.
 * Unknown names give FRNN_STATUS_INVALID_ARGUMENT.
 */
FRNN_API frnn_status frnn_struct_size(const char* struct_name, int64_t* out_size);

/**
 * Offset in bytes of a field of the named struct as this library was compiled.
 * Unknown struct or field names give FRNN_STATUS_INVALID_ARGUMENT.
 */
FRNN_API frnn_status frnn_struct_field_offset(const char* struct_name, const char* field_name, int64_t* out_offset);

/** Name of the kernel instruction set in use, for both precisions (e.g. "avx2", "reference"); a static string. */
FRNN_API frnn_status frnn_isa_name(const char** out_name);

/**
 * Creates a model. weights holds weights_count = num_layers * num_directions entries, entry
 * layer * num_directions + direction (direction 1 is the reverse one). The weights are copied and packed;
 * the caller's buffers are not kept.
 */
FRNN_API frnn_status frnn_model_create(const frnn_model_spec* spec, const frnn_layer_weights* weights, int32_t weights_count, frnn_model** out_model);

/** Destroys a model; NULL is accepted. Workspaces created for it must no longer be used with it. */
FRNN_API frnn_status frnn_model_destroy(frnn_model* model);

/**
 * Copies the spec the model was created with (every field this library knows, defaults included) into out_spec,
 * whose struct_size the caller sets first: the copy fills min(out_spec->struct_size, this library's size) bytes and
 * sets struct_size to that; bytes past it are left alone.
 */
FRNN_API frnn_status frnn_model_get_spec(const frnn_model* model, frnn_model_spec* out_spec);

/**
 * Creates a workspace for one model. It grows on demand inside frnn_model_forward when seq_len or batch
 * exceed what it has served before, so repeated calls with the same shapes do not allocate.
 */
FRNN_API frnn_status frnn_workspace_create(const frnn_model* model, frnn_workspace** out_workspace);

/** Destroys a workspace; NULL is accepted. */
FRNN_API frnn_status frnn_workspace_destroy(frnn_workspace* workspace);

/**
 * Runs the model over a sequence (see frnn_forward_args). workspace must have been created for this model.
 * On failure no output buffer has been written.
 */
FRNN_API frnn_status frnn_model_forward(const frnn_model* model, frnn_workspace* workspace, const frnn_forward_args* args);

/**
 * Bytes of one stream's state slot for frnn_model_step_slots: (L*Hout + L*H for an LSTM) values of the model's
 * arithmetic type. Fails for a bidirectional model, which cannot be stepped one time step at a time.
 */
FRNN_API frnn_status frnn_model_slot_bytes(const frnn_model* model, int64_t* out_bytes);

/**
 * One time step of the streams named by args->slots (see frnn_slot_step_args), their state read from and written
 * back to their slots in place. workspace must have been created for this model; the state buffer, like the
 * workspace, must be used by one call at a time.
 */
FRNN_API frnn_status frnn_model_step_slots(const frnn_model* model, frnn_workspace* workspace,
                                           const frnn_slot_step_args* args);

/**
 * Creates a dense layer: weight [output_size, input_size] (row-major, nn.Linear's layout) and, when has_bias,
 * bias [output_size]; NULL with count 0 otherwise. Both are copied and packed; the caller's buffers are not kept.
 */
FRNN_API frnn_status frnn_dense_create(const frnn_dense_spec* spec, const float* weight, int64_t weight_count,
                                       const float* bias, int64_t bias_count, frnn_dense** out_dense);

/** Destroys a dense layer; NULL is accepted. */
FRNN_API frnn_status frnn_dense_destroy(frnn_dense* dense);

/**
 * Runs the layer on `rows` rows: x [rows, input_size], y [rows, output_size], which must not overlap. The workspace
 * may be one created for any model: the call borrows its memory and hires workers through it as a forward call does
 * (one thread at a time, as for frnn_model_forward). Each output is
 * computed the same way whatever the thread count. On failure y has not been written.
 */
FRNN_API frnn_status frnn_dense_forward(const frnn_dense* dense, frnn_workspace* workspace, int64_t rows,
                                        const float* x, int64_t x_count, float* y, int64_t y_count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FUSEDRNN_H */
