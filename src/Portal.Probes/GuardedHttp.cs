using System.Net;
using System.Net.Sockets;

namespace Portal.Probes;

/// <summary>HTTP that connects only to the addresses the guard checked: no second DNS resolution, no proxy.</summary>
public static class GuardedHttp
{
    /// <summary>
    /// A handler whose connections go to <paramref name="target"/>'s checked addresses, in order. Redirects are not
    /// followed (each hop must be guarded again by the caller).
    /// </summary>
    /// <param name="target">A target the guard allowed, with its checked addresses.</param>
    /// <param name="connectTimeout">How long one connect may take.</param>
    /// <param name="validateCertificates">False when certificate problems are someone else's to report.</param>
    public static SocketsHttpHandler Handler(GuardedTarget target, TimeSpan connectTimeout, bool validateCertificates)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.Decision.Allowed)
        {
            throw new ArgumentException("The target was not allowed by the guard.", nameof(target));
        }

        var addresses = target.IPv4.Concat(target.IPv6).ToList();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = connectTimeout,
            ConnectCallback = async (context, ct) =>
            {
                foreach (var address in addresses)
                {
                    var (socket, _, _) = await Connections.ConnectAsync(address, target.Target.Port, connectTimeout, ct);
                    if (socket is not null)
                    {
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                }

                throw new HttpRequestException($"no checked address of {target.Target.Host} accepted a connection");
            },
        };
        // A browser's suites (CBC included), as the TLS probe offers: a server browsers reach must not fail here.
        handler.SslOptions.CipherSuitesPolicy = TlsSuites.ProbePolicy;
        if (!validateCertificates)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        return handler;
    }
}
