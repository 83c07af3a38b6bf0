using System.Net;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using FusedRnn.Samples.Streaming;
using FusedRnn.Streams;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace FusedRnn.Tests.Hosting;

/// <summary>
/// The streaming sample served in memory (TestHost): concurrent WebSocket streams, one time step per message, answer
/// exactly what the library called directly answers for the same model, backend and inputs; bad messages and unknown
/// models are refused with reasons.
/// </summary>
public sealed class StreamingSampleTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private TestServer _server = null!;

    private static string ModelPath => Path.Combine(AppContext.BaseDirectory, "models", "default-lstm.safetensors");

    public async Task InitializeAsync()
    {
        _app = StreamingService.Build([], builder =>
        {
            builder.WebHost.UseTestServer();
            builder.Logging.ClearProviders();
            builder.Configuration["FusedRnn:Models:demo:Path"] = ModelPath;
            builder.Configuration["FusedRnn:Models:demo:BatchingWindow"] = "00:00:00.0002";
        });
        await _app.StartAsync();
        _server = _app.GetTestServer();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task ConcurrentStreamsAnswerAsTheLibraryDoes()
    {
        string backend = (await _server.CreateClient().GetStringAsync("/models")).Split(" on ")[1].Split(',')[0];
        using RecurrentModule direct = RecurrentModule.Load(ModelPath, "rnn.", new RnnOptions { Backend = backend, Threads = 1 });
        const int streams = 8, steps = 12;
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async s =>
        {
            using var batcher = new StreamBatcher(direct);
            using RnnStream reference = batcher.Open();
            using WebSocket socket = await _server.CreateWebSocketClient().ConnectAsync(new Uri(_server.BaseAddress, "streams/demo"), CancellationToken.None);
            var random = new Random(s);
            float[] x = new float[64], expected = new float[128];
            for (int t = 0; t < steps; t++)
            {
                for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() - 0.5);
                reference.Step(x, expected);
                await socket.SendAsync(MemoryMarshal.AsBytes(x.AsSpan()).ToArray(), WebSocketMessageType.Binary, true, CancellationToken.None);
                byte[] reply = await ReceiveAll(socket);
                Assert.Equal(expected, MemoryMarshal.Cast<byte, float>(reply).ToArray());
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }));
    }

    [Fact]
    public async Task AStepOfTheWrongSizeClosesTheStreamWithTheReason()
    {
        using WebSocket socket = await _server.CreateWebSocketClient().ConnectAsync(new Uri(_server.BaseAddress, "streams/demo"), CancellationToken.None);
        await socket.SendAsync(new byte[10], WebSocketMessageType.Binary, true, CancellationToken.None);
        WebSocketReceiveResult result = await socket.ReceiveAsync(new byte[16], CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, result.CloseStatus);
        Assert.Equal("a step is one binary message of 64 float32 (256 bytes); got 10 bytes", result.CloseStatusDescription);
    }

    [Fact]
    public async Task UnknownModelsAndPlainRequestsAreRefused()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _server.CreateWebSocketClient().ConnectAsync(new Uri(_server.BaseAddress, "streams/nope"), CancellationToken.None));
        Assert.Contains("404", error.Message);
        HttpResponseMessage plain = await _server.CreateClient().GetAsync("/streams/demo");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Equal("Healthy", await _server.CreateClient().GetStringAsync("/health"));
    }

    private static async Task<byte[]> ReceiveAll(WebSocket socket)
    {
        var buffer = new byte[4096];
        int length = 0;
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
            length += result.Count;
            if (result.EndOfMessage) return buffer[..length];
        }
    }
}
