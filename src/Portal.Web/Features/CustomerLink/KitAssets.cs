using System.IO.Compression;
using System.Security.Cryptography;

namespace Portal.Web.Features.CustomerLink;

/// <summary>
/// The customer page's script and style, built from the top-level <c>wwwroot/</c> and embedded in this assembly.
/// Each file is held in memory with its gzip form and a content hash, and served under a versioned URL.
/// </summary>
public sealed class KitAssets
{
    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    /// <summary>Loads every embedded kit file.</summary>
    public KitAssets()
    {
        var assembly = typeof(KitAssets).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("kit/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            using var gz = new MemoryStream();
            using (var zip = new GZipStream(gz, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                zip.Write(bytes);
            }

            var file = name["kit/".Length..];
            var type = file.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
            _assets[file] = new Asset(bytes, gz.ToArray(), Convert.ToHexStringLower(SHA256.HashData(bytes))[..16], type);
        }
    }

    /// <summary>The versioned URL of a kit file, e.g. <c>/kit/kit.js?v=…</c>.</summary>
    public string Url(string file) => _assets.TryGetValue(file, out var a) ? $"/kit/{file}?v={a.Version}" : $"/kit/{file}";

    /// <summary>Maps <c>GET /kit/{file}</c>.</summary>
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/kit/{file}", (string file, HttpContext context, KitAssets kit) =>
        {
            if (!kit._assets.TryGetValue(file, out var asset))
            {
                return Results.NotFound();
            }

            var headers = context.Response.Headers;
            headers.CacheControl = context.Request.Query.ContainsKey("v") ? "public, max-age=31536000, immutable" : "no-cache";
            headers.ETag = $"\"{asset.Version}\"";
            headers.Vary = "Accept-Encoding";
            if (context.Request.Headers.IfNoneMatch == $"\"{asset.Version}\"")
            {
                return Results.StatusCode(StatusCodes.Status304NotModified);
            }

            if (context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                headers.ContentEncoding = "gzip";
                return Results.Bytes(asset.Gzip, asset.ContentType);
            }

            return Results.Bytes(asset.Bytes, asset.ContentType);
        }).AllowAnonymous();

    private sealed record Asset(byte[] Bytes, byte[] Gzip, string Version, string ContentType);
}
