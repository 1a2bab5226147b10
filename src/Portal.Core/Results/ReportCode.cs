using System.Buffers.Text;
using System.IO.Compression;
using System.Text.Json;

namespace Portal.Core.Results;

/// <summary>
/// Decodes the report code a customer's page shows when none of its results reached the portal:
/// <c>P1.</c> + base64url(deflate-raw(JSON)), the JSON being <c>{"r": runId, "s": [[id, step, status, metrics, clientTime], …]}</c>.
/// </summary>
public static class ReportCode
{
    /// <summary>The prefix of version 1 codes.</summary>
    public const string Prefix = "P1.";

    /// <summary>The longest code accepted.</summary>
    public const int MaxCodeLength = 32 * 1024;

    /// <summary>The most bytes a code may inflate to; a larger one is refused (no decompression bombs).</summary>
    public const int MaxInflatedBytes = 256 * 1024;

    /// <summary>Decodes a code into its run id and results, or says in plain words why it cannot.</summary>
    public static bool TryDecode(string? code, out Guid runId, out IReadOnlyList<ResultSubmission> results, out string? error)
    {
        runId = Guid.Empty;
        results = [];
        code = string.Concat((code ?? "").Where(c => !char.IsWhiteSpace(c)));
        if (!code.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"A report code starts with {Prefix}";
            return false;
        }

        if (code.Length > MaxCodeLength)
        {
            error = $"A report code is at most {MaxCodeLength} characters.";
            return false;
        }

        byte[] packed;
        try
        {
            packed = Base64Url.DecodeFromChars(code.AsSpan(Prefix.Length));
        }
        catch (FormatException)
        {
            error = "The report code is damaged: it is not valid base64url. Ask the customer to copy all of it.";
            return false;
        }

        byte[] json;
        try
        {
            using var inflate = new DeflateStream(new MemoryStream(packed), CompressionMode.Decompress);
            var buffer = new byte[MaxInflatedBytes + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = inflate.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }

            if (total > MaxInflatedBytes)
            {
                error = "The report code holds more than a run's results.";
                return false;
            }

            json = buffer[..total];
        }
        catch (InvalidDataException)
        {
            error = "The report code is damaged: it does not decompress. Ask the customer to copy all of it.";
            return false;
        }

        try
        {
            var root = JsonDocument.Parse(json).RootElement;
            runId = root.GetProperty("r").GetGuid();
            var list = new List<ResultSubmission>();
            foreach (var row in root.GetProperty("s").EnumerateArray())
            {
                list.Add(new ResultSubmission(
                    row[0].GetGuid(), runId, row[1].GetString()!, row[2].GetString()!, row[3].Clone(),
                    JsonSerializer.SerializeToElement(new { summary = "Imported from the customer's report code." }),
                    row[4].ValueKind == JsonValueKind.String ? row[4].GetDateTimeOffset() : null));
            }

            results = list;
            error = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            error = "The report code is not one the portal understands.";
            return false;
        }
    }
}
