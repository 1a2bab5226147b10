using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Portal.Web.Features.Webhooks;

/// <summary>
/// The signature a receiver checks: <c>X-Portal-Signature: sha256=HEX</c>, the HMAC-SHA256, keyed with the
/// webhook's secret, of <c>{X-Portal-Timestamp}.{body}</c>. The timestamp (Unix seconds) lets receivers refuse replays.
/// </summary>
public static class WebhookSignature
{
    public const string SignatureHeader = "X-Portal-Signature";
    public const string TimestampHeader = "X-Portal-Timestamp";
    public const string EventHeader = "X-Portal-Event";
    public const string DeliveryHeader = "X-Portal-Delivery";

    /// <summary>The header value for a body sent at a time.</summary>
    public static string Sign(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var prefix = Encoding.UTF8.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>Makes a new secret of 256 bits.</summary>
    public static string NewSecret() => "whsec_" + System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
}
