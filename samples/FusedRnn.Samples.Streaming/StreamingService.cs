using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using FusedRnn.Hosting;
using FusedRnn.Streams;

namespace FusedRnn.Samples.Streaming;

/// <summary>
/// The service: <c>GET /streams/{model}</c> upgrades to a WebSocket that is one stream of the model. Each binary
/// message is one time step, x_t as the model's input size of little-endian float32 (or, for a model that starts with
/// an embedding, one little-endian int64 token id); each reply is y_t, the output size of float32. A message of another
/// size, or an id outside the vocabulary, closes the socket with <see cref="WebSocketCloseStatus.InvalidPayloadData"/>
/// and a reason that says what a step is. <c>GET /models</c> lists the models; <c>GET /health</c> is their health.
/// </summary>
public static class StreamingService
{
    /// <summary>The app, configured from <paramref name="args"/>, appsettings.json and the environment, then <paramref name="configure"/>.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        builder.Services.AddFusedRnn(builder.Configuration.GetSection("FusedRnn"));
        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.MapHealthChecks("/health");
        app.MapGet("/models", (FusedRnnModels models) => Results.Text(string.Join('\n', models.Names.Order().Select(name =>
        {
            FusedRnnModel model = models.Get(name);
            string step = model.Batcher.TakesIds ? "one token id (int64)" : $"{model.Batcher.InputSize} floats";
            return $"{name}: {model.Architecture} on {model.Backend}, {model.Precision}; a step is {step} in, {model.Batcher.OutputSize} floats out";
        })) + "\n"));
        app.Map("/streams/{model}", Stream);
        return app;
    }

    private static async Task Stream(HttpContext context, string model, FusedRnnModels models)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("a stream is a WebSocket: connect with ws://.../streams/{model}\n");
            return;
        }

        FusedRnnModel served;
        try
        {
            served = models.Get(model);
        }
        catch (UnknownModelException e)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync(e.Message + "\n");
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        using RnnStream stream = served.OpenStream();
        bool ids = served.Batcher.TakesIds;
        int inputBytes = ids ? sizeof(long) : stream.InputSize * sizeof(float);
        string what = ids ? "one int64 token id (8 bytes)" : $"{stream.InputSize} float32 ({inputBytes} bytes)";
        var message = new byte[inputBytes + 1];  // one byte more: a longer message shows as such, not as two steps
        var input = new float[stream.InputSize];
        var output = new float[stream.OutputSize];
        var reply = new byte[stream.OutputSize * sizeof(float)];
        CancellationToken aborted = context.RequestAborted;
        while (true)
        {
            (int length, WebSocketMessageType type) = await ReceiveMessage(socket, message, aborted);
            if (type == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
                return;
            }

            if (type != WebSocketMessageType.Binary || length != inputBytes)
            {
                await socket.CloseAsync(WebSocketCloseStatus.InvalidPayloadData, Reason(
                    $"a step is one binary message of {what}; got {(type == WebSocketMessageType.Binary ? $"{(length > inputBytes ? "more than " + inputBytes : length)} bytes" : "a text message")}"), aborted);
                return;
            }

            if (ids)
            {
                try
                {
                    await stream.StepIdAsync(BinaryPrimitives.ReadInt64LittleEndian(message), output, aborted);
                }
                catch (ArgumentOutOfRangeException e)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.InvalidPayloadData, Reason(e.Message.Split(" (Parameter")[0]), aborted);
                    return;
                }
            }
            else
            {
                for (int i = 0; i < input.Length; i++) input[i] = BinaryPrimitives.ReadSingleLittleEndian(message.AsSpan(i * sizeof(float)));
                await stream.StepAsync(input, output, aborted);
            }

            if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(output.AsSpan()).CopyTo(reply);
            else for (int i = 0; i < output.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(reply.AsSpan(i * sizeof(float)), output[i]);
            await socket.SendAsync(reply, WebSocketMessageType.Binary, endOfMessage: true, aborted);
        }
    }

    /// <summary>A close reason as WebSocket allows it: at most 123 bytes of UTF-8.</summary>
    private static string Reason(string text)
    {
        while (System.Text.Encoding.UTF8.GetByteCount(text) > 123) text = text[..^1];
        return text;
    }

    /// <summary>One whole message into <paramref name="buffer"/> (its length, capped at the buffer's), or a close.</summary>
    private static async Task<(int Length, WebSocketMessageType Type)> ReceiveMessage(WebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        int length = 0;
        while (true)
        {
            Memory<byte> free = length < buffer.Length ? buffer.AsMemory(length) : new byte[256];
            ValueWebSocketReceiveResult received = await socket.ReceiveAsync(free, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close) return (0, WebSocketMessageType.Close);
            length = int.Min(buffer.Length, length + received.Count);
            if (received.EndOfMessage) return (length, received.MessageType);
        }
    }
}
