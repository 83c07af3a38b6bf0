// The FusedRnn streaming sample: `dotnet run --project samples/FusedRnn.Samples.Streaming` serves the demo model on
// http://127.0.0.1:5080 (ws://127.0.0.1:5080/streams/demo; see StreamingService and the README).
using FusedRnn.Samples.Streaming;

StreamingService.Build(args).Run();
