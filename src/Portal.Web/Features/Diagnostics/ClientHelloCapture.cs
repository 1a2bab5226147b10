using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Portal.Core.Tls;

namespace Portal.Web.Features.Diagnostics;

/// <summary>The ClientHello of the TLS connection a request came on, and its JA4 fingerprint.</summary>
public sealed record ClientHelloFeature(ClientHello Hello, string Ja4);

/// <summary>
/// Where Kestrel terminates TLS, reads each connection's ClientHello (Kestrel's
/// <c>TlsClientHelloBytesCallback</c>) and keeps what identifies the client's TLS stack on the connection, so the
/// portal can tell whether the browser spoke to it directly or a TLS-inspecting proxy re-originated the connection.
/// </summary>
public static class ClientHelloCapture
{
    /// <summary>Installs the capture on every HTTPS endpoint, including those configured in settings.</summary>
    public static void Install(KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.ConfigureHttpsDefaults(https => https.TlsClientHelloBytesCallback = OnClientHello);
    }

    /// <summary>Called by Kestrel with the raw ClientHello, which is valid only during the call.</summary>
    internal static void OnClientHello(ConnectionContext connection, ReadOnlySequence<byte> bytes)
    {
        if (bytes.Length > ClientHello.MaxLength)
        {
            return;
        }

        var hello = bytes.IsSingleSegment ? ClientHello.TryParse(bytes.FirstSpan) : ClientHello.TryParse(bytes.ToArray());
        if (hello is not null)
        {
            connection.Features.Set(new ClientHelloFeature(hello, Ja4.Compute(hello)));
        }
    }

    /// <summary>The ClientHello of the connection a request came on, when Kestrel terminated its TLS.</summary>
    public static ClientHelloFeature? Get(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<ClientHelloFeature>();
    }
}
